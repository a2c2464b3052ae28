"""Citizen service requests (Open311 GeoReport v2) with German texts built from
templates, word lists and rules: varying length and tone, typos, umlauts written as
ae/oe/ue, personal data in some texts, duplicates (same problem reported by several
people nearby) and near misses (same street other problem; same problem far away)."""

from __future__ import annotations

import math
import random
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from amtspuls.simulate.geo import Street, distance_m, offset
from amtspuls.simulate.noise import ASCII_UMLAUTS, typo_in_text
from amtspuls.simulate.timeline import MS_DAY
from amtspuls.simulate.world import World

MS_H = 3_600_000
_SENTENCE_VERBS = frozenset(
    [
        "ist",
        "sind",
        "hat",
        "wurde",
        "steht",
        "stehen",
        "liegt",
        "läuft",
        "parkt",
        "hängen",
        "hängt",
        "geht",
        "brennt",
        "klappert",
        "fehlt",
        "fehlen",
        "arbeitet",
        "blockiert",
        "bellt",
        "neigt",
        "quillt",
        "fällt",
        "kommen",
        "steigt",
        "droht",
    ]
)
# Categories citizens confuse (the true category stays in the truth file).
CONFUSED = {
    "baum_gefahr": "strassenschaden",
    "hochwasser": "strassenschaden",
    "strassenbeleuchtung": "strassenschaden",
    "spielplatz": "illegale_muellablagerung",
    "muelltonne": "illegale_muellablagerung",
    "falschparker": "laermbelaestigung",
    "beschwerde": "illegale_muellablagerung",
    "illegale_muellablagerung": "muelltonne",
    "strassenschaden": "strassenbeleuchtung",
    "laermbelaestigung": "beschwerde",
}


@dataclass
class Problem:
    group: int
    subtype: str
    street: Street
    frac: float
    lat: float
    lon: float
    t_ms: int
    first_id: str
    reports: int = 1


def _load() -> dict:
    with resources.files("amtspuls.data").joinpath("sim", "reports.toml").open("rb") as fh:
        return tomllib.load(fh)


class Reporter:
    def __init__(self, world: World) -> None:
        self.w = world
        self.cfg = world.cfg.requests
        self.data = _load()
        self.sub = self.data["subtypes"]
        self.names = list(self.sub)
        self.base_w = np.array([self.sub[s]["weight"] for s in self.names], dtype=np.float64)
        self.storm_w = np.array([self.sub[s].get("storm", 0.0) for s in self.names])
        self.rnd = random.Random(f"{world.cfg.seed}-requests")
        self.rng = world.rng(3)
        self.problems: list[Problem] = []
        self.seq = 0
        self.group = 0
        sids = world.city.by_id
        self.service_ok = {s: (self.sub[s]["service"] in sids) for s in self.names}
        self._protect: list[str] = []
        self.storms = [
            (i.start_ms, i.end_ms + MS_DAY) for i in world.incidents if i.kind == "storm"
        ]

    # ---------------------------------------------------------------- driver

    def run(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        w, c = self.w, self.cfg
        out = []
        for k in range(w.cfg.days):
            day = w.clock.dates[k]
            t0, t1 = int(w.clock.day_start[k]), int(w.clock.day_start[k + 1])
            wd = (1.15, 1.08, 1.05, 1.02, 1.0, 0.8, 0.75)[day.weekday()]
            doy = day.timetuple().tm_yday
            season = 1.0 + 0.15 * math.cos(2 * math.pi * (doy - 190) / 365.0)
            if w.cal.is_holiday(day):
                wd = 0.75
            n = int(round(self.rng.normal(c.per_day_mean * wd * season, 4.0)))
            storm_ms = sum(max(0, min(b, t1) - max(a, t0)) for a, b in self.storms)
            extra = int(round(storm_ms / MS_DAY * 40))
            n = int(np.clip(n + extra, c.per_day_min, c.per_day_max))
            times = self._times(k, n, t0, t1)
            for t in times.tolist():
                out.append(self._one(int(t)))
        return out

    def _times(self, k: int, n: int, t0: int, t1: int) -> np.ndarray:
        w = self.w
        base = w.cal.sample_times(self.rng, w.clock.dates[k], n)
        # Part of the reports during a storm happen inside its window.
        for a, b in self.storms:
            lo, hi = max(a, t0), min(b, t1)
            if hi > lo:
                m = self.rng.random(n) < 0.6 * (hi - lo) / (t1 - t0) + 0.2
                base[m] = self.rng.integers(lo, hi, int(m.sum()))
        return np.sort(base)

    def _in_storm(self, t: int) -> bool:
        return any(a <= t < b for a, b in self.storms)

    # -------------------------------------------------------------- requests

    def _one(self, t: int) -> tuple[dict[str, Any], dict[str, Any]]:
        rnd, c = self.rnd, self.cfg
        self.seq += 1
        year = self.w.clock.dates[0].year
        rid = f"{year}-{self.seq:06d}"
        recent = [p for p in self.problems[-400:] if 0 < t - p.t_ms < 3 * MS_DAY and p.reports < 6]
        r = rnd.random()
        near_miss_of = None
        duplicate_of = None
        if recent and r < c.duplicate_share:
            p = rnd.choice(recent)
            p.reports += 1
            dist = rnd.uniform(3.0, c.duplicate_radius_m)
            lat, lon = offset(p.lat, p.lon, dist, rnd.uniform(0, 2 * math.pi))
            frac = min(1.0, max(0.0, p.frac + rnd.uniform(-1, 1) * dist / p.street.length_m))
            subtype, street, group = p.subtype, p.street, p.group
            duplicate_of = p.first_id
        else:
            self.group += 1
            group = self.group
            subtype = self._subtype(t)
            if recent and r < c.duplicate_share + c.near_miss_share:
                p = rnd.choice(recent)
                near_miss_of = p.first_id
                if rnd.random() < 0.5:  # same street, another problem
                    others = [
                        s
                        for s in self.names
                        if self.sub[s]["service"] != self.sub[p.subtype]["service"]
                        and self.service_ok[s]
                    ]
                    subtype = rnd.choice(others)
                    street = p.street
                    frac = min(
                        1.0,
                        max(
                            0.0,
                            p.frac + rnd.choice((-1, 1)) * rnd.uniform(40, 160) / street.length_m,
                        ),
                    )
                    lat, lon = street.point(frac)
                else:  # same problem about a kilometre away
                    subtype = p.subtype
                    street, frac, lat, lon = self._far_from(p.lat, p.lon)
            else:
                street = rnd.choice(self.w.city.streets)
                frac = rnd.random()
                lat, lon = street.point(frac)
            self.problems.append(Problem(group, subtype, street, frac, lat, lon, t, rid))
        spec = self.sub[subtype]
        true_service = spec["service"]
        text, priority, reasons, pii = self._text(subtype, street, frac)
        if self._in_storm(t) and self.storm_w[self.names.index(subtype)] > 0:
            reasons.append("storm")
        given: str | None = true_service
        u = rnd.random()
        if u < c.no_code_share:
            given = None
        elif u < c.no_code_share + 0.07 and true_service in CONFUSED:
            given = CONFUSED[true_service]
        jitter_lat, jitter_lon = offset(lat, lon, rnd.uniform(0, 8), rnd.uniform(0, 2 * math.pi))
        obj: dict[str, Any] = {"service_request_id": rid}
        if given is not None:
            obj["service_code"] = given
        obj["description"] = text
        obj["lat"] = round(jitter_lat, 6)
        obj["long"] = round(jitter_lon, 6)
        obj["address_string"] = (
            f"{street.name} {street.house_number(frac)}, {street.plz} Musterstadt"
        )
        obj["requested_datetime"] = self.w.clock.iso_local(t)
        if rnd.random() < c.media_share:
            obj["media_url"] = (
                f"https://{self.w.cfg.host}/open311/media/{rnd.getrandbits(64):016x}.jpg"
            )
        truth = {
            "service_request_id": rid,
            "category": true_service,
            "subtype": subtype,
            "priority": priority,
            "priority_reasons": reasons,
            "duplicate_group": group,
            "duplicate_of": duplicate_of,
            "near_miss_of": near_miss_of,
            "service_code_given": given,
            "pii": pii,
        }
        return obj, truth

    def _subtype(self, t: int) -> str:
        w = self.base_w.copy()
        doy = self.w.clock.dates[int(self.w.clock.day_index(np.array([t]))[0])].timetuple().tm_yday
        for i, s in enumerate(self.names):
            for peak, width, amp in self.sub[s].get("season", ()):
                d = abs(doy - peak)
                d = min(d, 365 - d)
                w[i] *= 1.0 + amp * math.exp(-0.5 * (d / width) ** 2)
            if not self.service_ok[s]:
                w[i] = 0.0
        if self._in_storm(t):
            w = w + self.storm_w * 3.0
        return self.rnd.choices(self.names, weights=w.tolist())[0]

    def _far_from(self, lat: float, lon: float) -> tuple[Street, float, float, float]:
        lo, hi = self.cfg.near_miss_distance_m
        streets = self.w.city.streets
        best = None
        for _ in range(60):
            s = self.rnd.choice(streets)
            f = self.rnd.random()
            plat, plon = s.point(f)
            d = distance_m(lat, lon, plat, plon)
            if lo <= d <= hi:
                return s, f, plat, plon
            if best is None or abs(d - (lo + hi) / 2) < abs(best[0] - (lo + hi) / 2):
                best = (d, s, f, plat, plon)
        assert best is not None
        return best[1], best[2], best[3], best[4]

    # ------------------------------------------------------------------ text

    def _text(
        self, subtype: str, street: Street, frac: float
    ) -> tuple[str, int, list[str], list[str]]:
        rnd, ph = self.rnd, self.data["phrases"]
        spec = self.sub[subtype]
        c = self.cfg
        problem = rnd.choice(spec["problems"]).format(adj=rnd.choice(spec["adj"]))
        nr = street.house_number(frac)
        other = rnd.choice(self.w.city.streets).name
        loc = rnd.choice(ph["location"]).format(
            street=street.name,
            in_street=in_street(street.name),
            nr=nr,
            street2=other,
            nr2=nr + rnd.randint(2, 12),
        )
        if rnd.random() < 0.08:
            loc = f"gegenüber {rnd.choice(ph['landmark'])} {in_street(street.name)}"
        style = rnd.choices(("terse", "normal", "long"), (0.28, 0.5, 0.22))[0]
        angry = rnd.random() < 0.15
        priority = int(spec["priority"])
        reasons = [f"category:{subtype}"]
        parts: list[str] = []
        sentence = any(w in _SENTENCE_VERBS for w in problem.split())
        if sentence:
            core = rnd.choice(
                ("{P} ({L}).", "{L}: {p}.", "{P}, und zwar {L}.", "{P} – {L}.", "{P} {L}.")
            )
        else:
            core = rnd.choice(
                (
                    "Ich möchte {p} melden, {L}.",
                    "Hiermit melde ich {p} ({L}).",
                    "{P} {L}.",
                    "Bei uns {L}: {p}.",
                    "Es gibt {p} {L}.",
                    "{L}: {p}.",
                )
            )
        core = core.format(P=_cap(problem), p=problem, L=loc)
        danger = spec.get("danger", [])
        pii: list[str] = []
        if style == "terse":
            parts.append(_cap(f"{problem} {loc}") if rnd.random() < 0.6 else _cap(core))
            if danger and rnd.random() < 0.2:
                parts.append(rnd.choice(danger))
                priority -= 1
                reasons.append("danger_cue")
        else:
            if rnd.random() < 0.6:
                parts.append(rnd.choice(ph["greeting"]) + "\n")
            if style == "long" and rnd.random() < 0.7:
                parts.append(rnd.choice(ph["story"]))
            parts.append(_cap(core))
            if rnd.random() < 0.55:
                parts.append(rnd.choice(ph["time"]))
            details = spec.get("details", [])
            if details and (style == "long" or rnd.random() < 0.3):
                parts.append(
                    rnd.choice(details).format(mast=f"{rnd.randint(1, 9)}{rnd.randint(100, 999)}")
                )
            if danger and rnd.random() < (0.5 if style == "long" else 0.35):
                cue = rnd.choice(danger)
                parts.append(cue)
                priority -= 1
                reasons.append("danger_cue")
                if re.search(r"gestürzt|verletzt|geschnitten|stecken geblieben", cue):
                    reasons.append("injury_or_accident")
            if angry:
                parts.append(rnd.choice(ph["angry"]))
            parts.append(rnd.choice(ph["request"]))
        self._protect: list[str] = []
        if rnd.random() < c.pii_share:
            pii = self._pii(parts, subtype)
        elif style != "terse" and rnd.random() < 0.4:
            parts.append("\n" + rnd.choice(ph["signoff"]))
        text = " ".join(parts).replace("\n ", "\n").replace(" \n", "\n").strip()
        # Phone numbers, e-mail addresses and plates survive the noise intact.
        for k, item in enumerate(self._protect):
            text = text.replace(item, f"\x00{k}\x00")
        if angry and rnd.random() < 0.5:
            words = text.split(" ")
            k = rnd.randrange(len(words))
            words[k] = words[k].upper()
            text = " ".join(words)
        text = self._noise(text)
        for k, item in enumerate(self._protect):
            text = text.replace(f"\x00{k}\x00", item)
        return text, max(1, min(4, priority)), reasons, pii

    def _pii(self, parts: list[str], subtype: str) -> list[str]:
        rnd, people = self.rnd, self.data["people"]
        first, last = rnd.choice(people["first"]), rnd.choice(people["last"])
        kinds: list[str] = []
        choice = rnd.random()
        if choice < 0.35:
            parts.append(f"\n{rnd.choice(self.data['phrases']['signoff'])}\n{first} {last}")
            kinds.append("name")
        if 0.25 < choice < 0.6:
            phone = _phone(rnd)
            self._protect.append(phone)
            parts.append(
                rnd.choice(
                    (
                        f"Sie erreichen mich unter {phone}.",
                        f"Tel. {phone}",
                        f"Rückruf bitte unter {phone}",
                        f"Handy: {phone}",
                    )
                )
            )
            kinds.append("phone")
        if choice >= 0.55:
            mail = _mail(rnd, first, last, people["mail_domains"])
            self._protect.append(mail)
            parts.append(
                rnd.choice(
                    (
                        f"Rückfragen gerne an {mail}",
                        f"Meine E-Mail: {mail}",
                        f"Bitte Info an {mail}",
                        mail,
                    )
                )
            )
            kinds.append("email")
        if rnd.random() < 0.25:
            s = rnd.choice(self.w.city.streets)
            home = f"{s.name} {rnd.randint(1, 80)}"
            self._protect.append(home)
            parts.append(
                rnd.choice((f"Ich wohne selbst {in_street(home)}.", f"Meine Adresse: {home}."))
            )
            kinds.append("address")
        if self.sub[subtype]["service"] == "falschparker" and rnd.random() < 0.6:
            city = rnd.choice(people["plate_cities"])
            letters = "".join(
                rnd.choice("ABCDEFGHKLMNPRSTUVWXYZ") for _ in range(rnd.randint(1, 2))
            )
            plate = f"{city}-{letters} {rnd.randint(1, 9999)}"
            self._protect.append(plate)
            parts.append(f"Kennzeichen: {plate}")
            kinds.append("plate")
        if "name" not in kinds and rnd.random() < 0.3:
            at = 1 if parts and parts[0].endswith("\n") else 0  # after the greeting
            parts.insert(at, f"Mein Name ist {first} {last}.")
            kinds.append("name")
        return kinds

    def _noise(self, text: str) -> str:
        rnd, c = self.rnd, self.cfg
        if rnd.random() < c.ascii_umlaut_share:
            text = text.translate(ASCII_UMLAUTS)
        if rnd.random() < c.typo_rate:
            for _ in range(rnd.choice((1, 1, 2, 3))):
                text = typo_in_text(text, rnd, 5)
        r = rnd.random()
        if r < 0.08:
            text = text.lower()
        elif r < 0.14:
            text = text.replace(".", "").replace(",", "")
        return text


def in_street(name: str) -> str:
    """The street with the right preposition: "in der Goethestraße", "im Lindenweg"."""
    low = name.split(" ")[0].lower()
    if name.startswith(("Am ", "Im ", "An der ", "Auf dem ")):
        return name
    if low.endswith(("weg", "ring", "pfad", "platz", "hof", "kamp")):
        return f"im {name}" if not low.endswith("platz") else f"am {name}"
    return f"in der {name}"


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _phone(rnd: random.Random) -> str:
    if rnd.random() < 0.6:
        pre = rnd.choice(
            ("0151", "0152", "0157", "0160", "0162", "0170", "0171", "0172", "0176", "0177", "0179")
        )
        num = "".join(str(rnd.randint(0, 9)) for _ in range(rnd.choice((7, 8))))
        sep = rnd.choice((" ", "/", "-", ""))
        return rnd.choice((f"{pre}{sep}{num}", f"+49 {pre[1:]} {num}"))
    pre = f"02{rnd.randint(300, 399)}"
    num = "".join(str(rnd.randint(0, 9)) for _ in range(6))
    return rnd.choice((f"{pre} {num}", f"{pre}/{num}", f"({pre}) {num[:3]} {num[3:]}"))


def _mail(rnd: random.Random, first: str, last: str, domains: list[str]) -> str:
    f = first.lower().translate(ASCII_UMLAUTS).replace("ş", "s").replace("ı", "i")
    la = last.lower().translate(ASCII_UMLAUTS).replace("ı", "i").replace("ş", "s")
    user = rnd.choice(
        (
            f"{f}.{la}",
            f"{f[0]}.{la}",
            f"{f}{la}{rnd.randint(1, 99)}",
            f"{la}.{f}",
            f"{f}_{rnd.randint(1960, 2005)}",
        )
    )
    return f"{user}@{rnd.choice(domains)}"
