"""Who visits: devices, browsers with real-looking user agents for the simulated
date, and IP addresses from many /24 networks (IPv4 and some IPv6)."""

from __future__ import annotations

from datetime import date

import numpy as np

from amtspuls.simulate.config import TrafficConfig

DEVICES = ("mobile", "desktop", "tablet")
MOBILE, DESKTOP, TABLET = 0, 1, 2

# Browser release trains: (reference date, major version then, days per major).
_TRAINS = {
    "chrome": (date(2025, 12, 2), 143, 28),
    "firefox": (date(2025, 12, 9), 146, 28),
    "samsung": (date(2025, 10, 15), 29, 120),
    "opera": (date(2025, 12, 10), 125, 35),
}
_LAG_P = np.array([0.62, 0.24, 0.08, 0.03, 0.02, 0.01])


def major(train: str, day: date, lag: int = 0) -> int:
    ref, v, cadence = _TRAINS[train]
    return v + (day - ref).days // cadence - lag


def _chrome_build(v: int) -> str:
    return f"{v}.0.{6778 + (v - 131) * 60}.{80 + (v * 7) % 60}"


def _safari_versions(day: date) -> list[tuple[str, str, float]]:
    """(Safari version, iOS token in the UA, weight). iOS 26 freezes the OS token at 18_6."""
    months = (day.year - 2025) * 12 + day.month - 9  # months since iOS 26 (Sept 2025)
    minor = max(0, min(6, months // 2))
    out = [
        (f"26.{minor}", "18_6", 0.42),
        (f"26.{max(0, minor - 1)}", "18_6", 0.16),
        ("18.6", "18_6", 0.2),
        ("18.7", "18_7", 0.08),
        ("17.6", "17_6_1", 0.07),
        ("16.6", "16_7_10", 0.04),
        ("15.6", "15_8_3", 0.03),
    ]
    return out


_ANDROID = (("15", 0.42), ("14", 0.3), ("16", 0.14), ("13", 0.1), ("12", 0.04))
_SAMSUNG_MODELS = (
    "SM-S921B",
    "SM-S911B",
    "SM-A556B",
    "SM-A546B",
    "SM-G991B",
    "SM-A155F",
    "SM-S928B",
    "SM-A356B",
    "SM-G990B",
    "SM-A256B",
)


def user_agents(browser: str, day: date) -> list[tuple[str, float]]:
    """Candidate UA strings of one browser on one day, with weights."""
    out: list[tuple[str, float]] = []
    lags = list(enumerate(_LAG_P))
    if browser in ("chrome", "edge", "opera"):
        oses = (
            ("Windows NT 10.0; Win64; x64", 0.8),
            ("Macintosh; Intel Mac OS X 10_15_7", 0.12),
            ("X11; Linux x86_64", 0.05),
            ("X11; CrOS x86_64 14541.0.0", 0.03),
        )
        if browser != "chrome":
            oses = (
                ("Windows NT 10.0; Win64; x64", 0.93),
                ("Macintosh; Intel Mac OS X 10_15_7", 0.07),
            )
        for lag, pl in lags:
            v = major("chrome", day, lag)
            for os_, po in oses:
                ua = (
                    f"Mozilla/5.0 ({os_}) AppleWebKit/537.36 (KHTML, like Gecko) "
                    f"Chrome/{v}.0.0.0 Safari/537.36"
                )
                if browser == "edge":
                    ua += f" Edg/{v}.0.0.0"
                elif browser == "opera":
                    ua += f" OPR/{major('opera', day, lag)}.0.0.0"
                out.append((ua, pl * po))
    elif browser == "firefox":
        oses = (
            ("Windows NT 10.0; Win64; x64", 0.78),
            ("X11; Linux x86_64", 0.08),
            ("X11; Ubuntu; Linux x86_64", 0.04),
            ("Macintosh; Intel Mac OS X 10.15", 0.1),
        )
        for lag, pl in lags:
            v = major("firefox", day, lag)
            if lag >= 4:
                v = 140  # extended support release
            for os_, po in oses:
                out.append((f"Mozilla/5.0 ({os_}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", pl * po))
    elif browser == "safari_mac" or browser == "safari_ipad_desktop":
        for ver, _tok, pv in _safari_versions(day):
            out.append(
                (
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
                    f"(KHTML, like Gecko) Version/{ver} Safari/605.1.15",
                    pv,
                )
            )
    elif browser == "safari_ios":
        for ver, tok, pv in _safari_versions(day):
            out.append(
                (
                    f"Mozilla/5.0 (iPhone; CPU iPhone OS {tok} like Mac OS X) AppleWebKit/605.1.15 "
                    f"(KHTML, like Gecko) Version/{ver} Mobile/15E148 Safari/604.1",
                    pv,
                )
            )
    elif browser == "safari_ipad":
        # iPadOS asks for the desktop site by default: most iPads look like a Mac.
        for ua, w in user_agents("safari_ipad_desktop", day):
            out.append((ua, w * 0.7))
        for ver, tok, pv in _safari_versions(day):
            out.append(
                (
                    f"Mozilla/5.0 (iPad; CPU OS {tok} like Mac OS X) AppleWebKit/605.1.15 "
                    f"(KHTML, like Gecko) Version/{ver} Mobile/15E148 Safari/604.1",
                    pv * 0.3,
                )
            )
    elif browser == "chrome_ios":
        for lag, pl in lags[:4]:
            v = major("chrome", day, lag)
            for _ver, tok, pv in _safari_versions(day)[:4]:
                out.append(
                    (
                        f"Mozilla/5.0 (iPhone; CPU iPhone OS {tok} like Mac OS X) "
                        f"AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/{_chrome_build(v)} "
                        "Mobile/15E148 Safari/604.1",
                        pl * pv,
                    )
                )
    elif browser in ("chrome_android", "chrome_tablet"):
        mobile = " Mobile" if browser == "chrome_android" else ""
        for lag, pl in lags:
            v = major("chrome", day, lag)
            out.append(
                (
                    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                    f"Chrome/{v}.0.0.0{mobile} Safari/537.36",
                    pl,
                )
            )
    elif browser == "samsung":
        for lag, pl in lags[:3]:
            sv = major("samsung", day, lag)
            cv = 130 + 2 * (sv - 28)
            for model in _SAMSUNG_MODELS:
                for andr, pa in _ANDROID[:3]:
                    out.append(
                        (
                            f"Mozilla/5.0 (Linux; Android {andr}; {model}) AppleWebKit/537.36 "
                            f"(KHTML, like Gecko) SamsungBrowser/{sv}.0 Chrome/{cv}.0.0.0 "
                            "Mobile Safari/537.36",
                            pl * pa / len(_SAMSUNG_MODELS),
                        )
                    )
    elif browser == "firefox_android":
        for lag, pl in lags[:4]:
            v = major("firefox", day, lag)
            for andr, pa in _ANDROID:
                out.append(
                    (
                        f"Mozilla/5.0 (Android {andr}; Mobile; rv:{v}.0) Gecko/{v}.0 Firefox/{v}.0",
                        pl * pa,
                    )
                )
    else:  # pragma: no cover - config error
        raise ValueError(f"unknown browser {browser!r}")
    return out


class UATable:
    """Interned user-agent strings (humans and bots share the table)."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, ua: str) -> int:
        i = self.index.get(ua)
        if i is None:
            i = len(self.strings)
            self.strings.append(ua)
            self.index[ua] = i
        return i


class Population:
    def __init__(self, cfg: TrafficConfig, uas: UATable) -> None:
        self.cfg = cfg
        self.uas = uas
        self._day: date | None = None
        self._choices: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _prepare(self, day: date) -> None:
        if self._day == day:
            return
        self._day = day
        self._choices = {}
        for shares in self.cfg.browser_shares.values():
            for b in shares:
                cands = user_agents(b, day)
                ids = np.array([self.uas.add(u) for u, _ in cands], dtype=np.int32)
                w = np.array([w for _, w in cands], dtype=np.float64)
                self._choices[b] = (ids, np.cumsum(w / w.sum()))

    def draw(
        self, rng: np.random.Generator, day: date, hours: np.ndarray, weekend: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Devices and UA ids for visits starting at the given local hours."""
        self._prepare(day)
        n = len(hours)
        shares = self.cfg.device_shares
        p = np.array([shares["mobile"], shares["desktop"], shares["tablet"]])
        # Desktop is stronger during office hours on working days, mobile in the evening.
        office = (~np.bool_(weekend)) & (hours >= 8) & (hours < 17)
        tilt = np.where(office, 1.22, 0.85)
        pd = np.empty((n, 3))
        pd[:, 0] = p[0] / tilt
        pd[:, 1] = p[1] * tilt
        pd[:, 2] = p[2]
        pd /= pd.sum(axis=1, keepdims=True)
        u = rng.random(n)
        device = (u > pd[:, 0]).astype(np.int8) + (u > pd[:, 0] + pd[:, 1])
        ua = np.empty(n, dtype=np.int32)
        for d, name in enumerate(DEVICES):
            sel = np.flatnonzero(device == d)
            if not len(sel):
                continue
            bshares = self.cfg.browser_shares[name]
            names = list(bshares)
            bp = np.array([bshares[b] for b in names])
            bc = np.cumsum(bp / bp.sum())
            bi = np.minimum(np.searchsorted(bc, rng.random(len(sel))), len(names) - 1)
            for k, b in enumerate(names):
                sub = sel[bi == k]
                if len(sub):
                    ids, cum = self._choices[b]
                    j = np.minimum(np.searchsorted(cum, rng.random(len(sub))), len(ids) - 1)
                    ua[sub] = ids[j]
        return device, ua


# Access networks of German ISPs (first two octets / prefixes), weight. Plausible public
# ranges chosen for realism; the simulator makes no claim about who owns which address.
_V4_POOLS: tuple[tuple[int, int, int, float], ...] = (
    # first octet, second octet from, to (inclusive), weight
    (79, 192, 255, 6),
    (80, 128, 159, 4),
    (84, 128, 191, 5),
    (87, 128, 191, 5),
    (91, 0, 63, 5),
    (93, 192, 255, 4),
    (217, 80, 95, 3),
    (217, 224, 255, 3),
    (46, 80, 95, 3),
    (109, 40, 47, 2),
    (88, 64, 79, 4),
    (95, 88, 91, 2),
    (178, 0, 15, 3),
    (188, 192, 195, 2),
    (31, 16, 19, 2),
    (94, 134, 135, 1),
    (92, 72, 79, 2),
    (77, 0, 15, 2),
    (89, 12, 15, 1),
    (176, 0, 7, 3),
    (37, 80, 95, 2),
    (2, 200, 207, 1),
    (185, 16, 31, 1),
    (213, 168, 175, 1),
    (62, 224, 231, 1),
    (82, 82, 83, 1),
    (89, 244, 247, 1),
)
_V6_PREFIXES: tuple[tuple[str, float], ...] = (
    ("2003:{a:x}:{b:x}", 6.0),
    ("2a02:8108:{b:x}", 2.5),
    ("2a02:8109:{b:x}", 1.5),
    ("2a01:c22:{b:x}", 1.0),
    ("2a02:3032:{b:x}", 1.0),
    ("2a00:20:{b:x}", 0.8),
    ("2a02:810d:{b:x}", 1.0),
    ("2001:16b8:{b:x}", 1.2),
    ("2a0a:a540:{b:x}", 0.4),
)


def make_ips(rng: np.random.Generator, n: int, ipv6_share: float) -> list[str]:
    """Client addresses: random hosts in random /24s of access networks; some IPv6."""
    if n == 0:
        return []
    w4 = np.array([p[3] for p in _V4_POOLS])
    pool = np.searchsorted(np.cumsum(w4 / w4.sum()), rng.random(n))
    pool = np.minimum(pool, len(_V4_POOLS) - 1)
    first = np.array([p[0] for p in _V4_POOLS])[pool]
    lo = np.array([p[1] for p in _V4_POOLS])[pool]
    hi = np.array([p[2] for p in _V4_POOLS])[pool]
    second = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    third = rng.integers(0, 256, n)
    fourth = rng.integers(1, 255, n)
    v6 = rng.random(n) < ipv6_share
    out = [
        f"{a}.{b}.{c}.{d}"
        for a, b, c, d in zip(
            first.tolist(), second.tolist(), third.tolist(), fourth.tolist(), strict=True
        )
    ]
    idx6 = np.flatnonzero(v6)
    if len(idx6):
        w6 = np.array([p[1] for p in _V6_PREFIXES])
        pi = np.minimum(
            np.searchsorted(np.cumsum(w6 / w6.sum()), rng.random(len(idx6))), len(_V6_PREFIXES) - 1
        )
        words = rng.integers(0, 65536, (len(idx6), 6))
        for k, i in enumerate(idx6.tolist()):
            w = words[k].tolist()
            pre = _V6_PREFIXES[pi[k]][0].format(a=0xE0 | (w[0] & 0x1F), b=w[1])
            out[i] = (
                f"{pre}:{w[2] & 0xFF00:x}:{w[3]:x}:{w[4]:x}:{w[5]:x}:{(w[0] * 7 + 1) & 0xFFFF:x}"
            )
    return out
