"""Bots and crawlers: search engines, SEO crawlers, AI crawlers, link previews,
scripts, vulnerability scanners and uptime monitors, with their real user agents
and address ranges. They do not run JavaScript, so they send no tracker events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amtspuls.simulate.city import City
from amtspuls.simulate.clients import HTTP11, Clients
from amtspuls.simulate.data import load
from amtspuls.simulate.population import UATable, major
from amtspuls.simulate.rows import GET, HEAD, POST, Rows
from amtspuls.simulate.urls import FEED, FORM, NEWS, OLD, PAGE, PDF, REMOVED, Urls


@dataclass(frozen=True)
class BotKind:
    name: str
    share: float  # share of non-monitor bot lines
    uas: tuple[tuple[str, float], ...]
    nets: tuple[str, ...]  # "a.b.c" (/24) or "a.b" (/16)
    mode: str  # crawl | preview | script | scan | feed | headless
    ips_per_day: int
    session_len: float  # mean lines per burst
    gap_s: float  # mean seconds between lines of a burst


@dataclass(frozen=True)
class Monitor:
    agent: str
    ip: str
    interval_s: int
    method: int
    path: str


def bot_kinds(chrome: int) -> tuple[BotKind, ...]:
    """The bot table of data/sim/bots.toml with agent versions for the simulated day."""
    data = load("bots.toml")
    out = []
    for b in data["bot"]:
        nets: list[str] = []
        for n in b["nets"]:
            nets.extend(data[n[1:]] if n.startswith("@") else [n])
        agents = tuple(
            (a.format(chrome=chrome, chrome_old=chrome - 2), float(w)) for a, w in b["agents"]
        )
        out.append(
            BotKind(b["name"], float(b["share"]), agents, tuple(nets), b["mode"],
                    int(b["ips_per_day"]), float(b["session_len"]), float(b["gap_s"]))
        )  # fmt: skip
    return tuple(out)


def monitors() -> tuple[Monitor, ...]:
    methods = {"GET": GET, "HEAD": HEAD}
    return tuple(
        Monitor(m["agent"], m["ip"], int(m["interval_s"]), methods[m["method"]], m["path"])
        for m in load("bots.toml")["monitor"]
    )


class Bots:
    def __init__(self, city: City, uas: UATable, clients: Clients) -> None:
        self.city = city
        self.urls: Urls = city.urls
        self.uas = uas
        self.clients = clients
        u = self.urls
        self.robots = u.add("/robots.txt", PAGE, "", 412)
        self.sitemap = u.add("/sitemap.xml", PAGE, "", 38_406)
        self.feed = u.add("/aktuelles/rss.xml", FEED, "", 18_211)
        self.scan = [u.add(p, REMOVED, "", 0) for p in load("bots.toml")["scan_paths"]]
        self.monitors = monitors()
        self.monitor_urls = [u.add(m.path, PAGE) for m in self.monitors]

    def _crawl_targets(self) -> tuple[np.ndarray, np.ndarray]:
        kinds = self.urls.kinds
        paths = [
            u for u in range(1, len(self.urls)) if kinds[u] in (PAGE, NEWS, PDF, OLD, REMOVED, FORM)
        ]
        scan = set(self.scan)
        paths = [u for u in paths if u not in scan and "utm_" not in self.urls.paths[u]]
        weight = {PAGE: 1.0, NEWS: 1.0, PDF: 0.6, OLD: 0.5, REMOVED: 0.4, FORM: 0.3}
        w = np.array([weight[kinds[u]] for u in paths])
        return np.array(paths, dtype=np.int64), np.cumsum(w / w.sum())

    def day(self, rows: Rows, rng: np.random.Generator, t0: int, t1: int, target: int, day) -> int:
        """Add about `target` bot lines in [t0, t1); returns the number added."""
        added = 0
        span = t1 - t0
        mon_lines = sum(span // (m.interval_s * 1000) for m in self.monitors)
        thin = max(1, int(np.ceil(mon_lines / max(1, 0.35 * target))))
        for m, url in zip(self.monitors, self.monitor_urls, strict=True):
            step = m.interval_s * 1000 * thin
            offs = int(rng.integers(0, step))
            t = np.arange(t0 + offs, t1, step, dtype=np.int64) + rng.integers(0, 900, 1)
            ua = np.array([self.uas.add(m.agent)])
            cid = self.clients.add([m.ip], ua, np.array([HTTP11]), np.array([False]), bot=True)
            rows.add_log(t, cid, url, 200, 0, method=m.method)
            added += len(t)
        rest = max(0, target - added)
        kinds = bot_kinds(major("chrome", day))
        shares = np.array([k.share for k in kinds])
        counts = rng.multinomial(rest, shares / shares.sum())
        paths, cum = self._crawl_targets()
        news = np.array([x.url for x in self.city.news], dtype=np.int64)
        pages = np.array([s.page for s in self.city.services] + [self.city.home], dtype=np.int64)
        for kind, n in zip(kinds, counts.tolist(), strict=True):
            if n:
                added += self._kind(rows, rng, kind, n, t0, span, paths, cum, news, pages)
        return added

    def _kind(
        self,
        rows: Rows,
        rng: np.random.Generator,
        kind: BotKind,
        n: int,
        t0: int,
        span: int,
        paths,
        cum,
        news,
        pages,
    ) -> int:
        # Clients for the day: an address of the kind's networks and one of its agents.
        m = kind.ips_per_day
        nets = [kind.nets[i] for i in rng.integers(0, len(kind.nets), m).tolist()]
        hosts = rng.integers(1, 255, (m, 2)).tolist()
        ips = [
            f"{net}.{h[1]}" if net.count(".") == 2 else f"{net}.{h[0]}.{h[1]}"
            for net, h in zip(nets, hosts, strict=True)
        ]
        uw = np.array([w for _, w in kind.uas])
        ua_pick = np.minimum(
            np.searchsorted(np.cumsum(uw / uw.sum()), rng.random(m)), len(kind.uas) - 1
        )
        ua_ids = np.array([self.uas.add(kind.uas[i][0]) for i in ua_pick.tolist()], dtype=np.int32)
        base = self.clients.add(
            ips, ua_ids, np.full(m, HTTP11, np.int8), np.zeros(m, bool), bot=True
        )
        # Bursts ("sessions") of requests.
        sessions = max(1, int(np.ceil(n / kind.session_len)))
        sess = np.sort(rng.integers(0, sessions, n))
        start = t0 + rng.integers(0, span, sessions)
        client = base + rng.integers(0, m, sessions)
        gaps = rng.exponential(kind.gap_s * 1000.0, n).astype(np.int64) + 50
        csum = np.cumsum(gaps)
        first = np.searchsorted(sess, np.arange(sessions))[sess]
        t = start[sess] + csum - csum[first] + gaps[first]
        cl = client[sess]
        method = np.full(n, GET, np.int8)
        status = np.full(n, 200, np.int16)
        ref = np.zeros(n, np.int64)
        kinds_arr = self.urls.kind_array()
        is_first = np.r_[True, sess[1:] != sess[:-1]]
        if kind.mode == "crawl" or kind.mode == "script":
            url = paths[np.minimum(np.searchsorted(cum, rng.random(n)), len(paths) - 1)]
            if kind.mode == "crawl":
                url[is_first] = self.robots
                sm = ~is_first & (rng.random(n) < 0.01)
                url[sm] = self.sitemap
            k = kinds_arr[url]
            status[k == OLD] = 301
            status[k == REMOVED] = 404
            if kind.name == "googlebot":
                status[(k == PAGE) & (rng.random(n) < 0.15)] = 304
        elif kind.mode == "preview":
            url = np.where(
                rng.random(n) < 0.7,
                news[rng.integers(0, len(news), n)],
                pages[rng.integers(0, len(pages), n)],
            )
        elif kind.mode == "scan":
            scan = np.array(self.scan, dtype=np.int64)
            url = scan[rng.integers(0, len(scan), n)]
            url[rng.random(n) < 0.12] = self.city.home
            status = np.where(url == self.city.home, 200, 404).astype(np.int16)
            status[url == self.urls.index["/server-status"]] = 403
            method[url == self.urls.index["/xmlrpc.php"]] = POST
        elif kind.mode == "feed":
            url = np.full(n, self.feed, np.int64)
            status[rng.random(n) < 0.6] = 304
        else:  # headless: a page and its main assets
            url = pages[rng.integers(0, len(pages), n)]
            css, js = self.city.assets_base[0], self.city.assets_base[1]
            half = rng.random(n) < 0.5
            ref = np.where(half, url, 0)
            url = np.where(half, np.where(rng.random(n) < 0.5, css, js), url)
        rows.add_log(t, cl, url, status, ref, method=method)
        return n
