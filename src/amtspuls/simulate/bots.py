"""Bots and crawlers: search engines, SEO crawlers, AI crawlers, link previews,
scripts, vulnerability scanners and uptime monitors, with their real user agents
and address ranges. They do not run JavaScript, so they send no tracker events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amtspuls.simulate.city import City
from amtspuls.simulate.clients import HTTP11, Clients
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


_CLOUD = ("95.216", "88.198", "5.9", "138.201", "167.99", "138.68", "3.120", "18.184", "52.57",
          "35.198", "34.107", "51.15", "163.172", "45.155", "193.41", "157.90", "65.21")  # fmt: skip


def bot_kinds(chrome: int) -> tuple[BotKind, ...]:
    gb_mobile = (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
        f"like Gecko) Chrome/{chrome}.0.0.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)"
    )
    gb_desktop = (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; "
        f"+http://www.google.com/bot.html) Chrome/{chrome}.0.0.0 Safari/537.36"
    )
    return (
        BotKind("googlebot", 0.24, ((gb_mobile, 0.78), (gb_desktop, 0.15),
                                    ("Googlebot-Image/1.0", 0.04),
                                    ("Googlebot/2.1 (+http://www.google.com/bot.html)", 0.03)),
                ("66.249.64", "66.249.65", "66.249.66", "66.249.68", "66.249.69", "66.249.70",
                 "66.249.72", "66.249.73", "66.249.75", "66.249.79"), "crawl", 24, 40, 6.0),
        BotKind("bingbot", 0.12, ((
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
            "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36", 1.0),),
            ("157.55.39", "207.46.13", "40.77.167", "52.167.144"), "crawl", 12, 30, 8.0),
        BotKind("applebot", 0.03, ((
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
            1.0),), ("17.241.219", "17.241.75", "17.22.237"), "crawl", 4, 25, 10.0),
        BotKind("yandex", 0.03, (("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
                                  1.0),), ("5.255.231", "213.180.203", "95.108.213", "87.250.224"),
                "crawl", 4, 20, 12.0),
        BotKind("duckduckbot", 0.01, (("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
                                       1.0),), ("20.191.45", "40.88.21"), "crawl", 2, 15, 10.0),
        BotKind("petalbot", 0.03, ((
            "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
            "Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
            1.0),), ("114.119.146", "114.119.147", "114.119.133"), "crawl", 5, 30, 9.0),
        BotKind("seznambot", 0.01, ((
            "Mozilla/5.0 (compatible; SeznamBot/4.0; +https://o-seznam.cz/napoveda/vyhledavani/en/"
            "seznambot-crawler/)", 1.0),), ("77.75.77", "77.75.78"), "crawl", 2, 15, 12.0),
        BotKind("ahrefsbot", 0.1, (("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
                                    1.0),), ("54.36.148", "54.36.149", "5.39.1", "51.222.253"),
                "crawl", 8, 60, 3.0),
        BotKind("semrushbot", 0.08, ((
            "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", 1.0),),
            ("185.191.171", "85.208.96", "85.208.98"), "crawl", 6, 50, 4.0),
        BotKind("mj12bot", 0.03, (("Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
                                   1.0),), ("136.243.220", "148.251.120", "5.9.98"), "crawl", 5, 40,
                5.0),
        BotKind("dotbot", 0.02, ((
            "Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot; "
            "help@moz.com)", 1.0),), ("216.244.66",), "crawl", 2, 40, 5.0),
        BotKind("gptbot", 0.04, ((
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
            "+https://openai.com/gptbot)", 1.0),), ("20.171.207", "20.171.206", "52.230.152"),
            "crawl", 6, 80, 2.0),
        BotKind("claudebot", 0.03, ((
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
            "+claudebot@anthropic.com)", 1.0),), ("3.12.251", "18.97.9", "34.162.142"), "crawl",
            5, 60, 2.5),
        BotKind("ccbot", 0.01, (("CCBot/2.0 (https://commoncrawl.org/faq/)", 1.0),),
                ("18.97.14", "3.236.89"), "crawl", 3, 30, 3.0),
        BotKind("bytespider", 0.02, ((
            "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
            "Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)", 1.0),),
            ("47.128.17", "47.128.56", "47.128.99"), "crawl", 6, 30, 4.0),
        BotKind("facebookexternalhit", 0.015, ((
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 0.8),
            ("meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/"
             "crawler)", 0.2)), ("69.63.189", "173.252.127", "66.220.149", "31.13.103"),
            "preview", 8, 2, 1.0),
        BotKind("scripts", 0.075, (
            ("python-requests/2.32.3", 0.3), ("python-requests/2.31.0", 0.1), ("curl/8.5.0", 0.12),
            ("curl/7.81.0", 0.08), ("Go-http-client/1.1", 0.1), ("Go-http-client/2.0", 0.05),
            ("Wget/1.21.4", 0.04), ("Apache-HttpClient/4.5.14 (Java/17.0.9)", 0.05),
            ("okhttp/4.12.0", 0.04), ("Scrapy/2.11.2 (+https://scrapy.org)", 0.05),
            ("aiohttp/3.9.5", 0.04), ("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", 0.03)),
            _CLOUD, "script", 10, 12, 2.0),
        BotKind("scanners", 0.05, (
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/91.0.4472.124 Safari/537.36", 0.35),
            ("Mozilla/5.0 zgrab/0.x", 0.15),
            ("Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)", 0.15),
            ("Mozilla/5.0 (l9scan/2.0.134313e2037313e27363e25343; +https://leakix.net)", 0.1),
            ("Expanse, a Palo Alto Networks company, searches across the global IPv4 space "
             "multiple times per day to identify customers' presences on the Internet. If you "
             "would like to be excluded from our scans, please send IP addresses/domains to: "
             "scaninfo@paloaltonetworks.com", 0.1),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0", 0.15)),
            ("45.148.10", "185.224.128", "194.26.192", "80.94.95", "167.94.138", "198.235.24",
             "71.6.199", "162.142.125", "45.156.129", "89.248.165"), "scan", 20, 25, 0.8),
        BotKind("headless", 0.02, ((
            f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"HeadlessChrome/{chrome}.0.0.0 Safari/537.36", 0.8),
            (f"Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like "
             f"Gecko) Chrome/{chrome}.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse", 0.2)),
            _CLOUD, "headless", 4, 8, 3.0),
        BotKind("feeds", 0.01, (
            ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers; like FeedFetcher-Google)",
             0.5), ("Tiny Tiny RSS/23.12 (https://tt-rss.org/)", 0.25),
            ("NewsBlur Feed Fetcher - 2 subscribers - https://www.newsblur.com/site/1 (Mozilla/5.0)",
             0.25)), _CLOUD, "feed", 3, 1, 1.0),
        BotKind("stealth", 0.02, ((
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{chrome - 2}.0.0.0 Safari/537.36", 1.0),), _CLOUD, "crawl", 3, 80, 1.5),
    )


MONITORS = (
    # UA, ip, interval seconds, method, path
    ("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "216.144.248.22",
     300, HEAD, "/"),
    ("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", "178.255.152.2", 300, GET, "/"),
    ("check_http/v2.3.3 (monitoring-plugins 2.3.3)", "195.37.210.12", 120, GET, "/"),
)

SCAN_PATHS = ("/wp-login.php", "/.env", "/.git/config", "/xmlrpc.php", "/wp-admin/setup-config.php",
              "/phpmyadmin/", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/admin/.env",
              "/config.json", "/server-status", "/actuator/health", "/.aws/credentials",
              "/wp-content/plugins/", "/cgi-bin/luci/;stok=/locale", "/owa/auth/logon.aspx",
              "/backup.zip", "/.DS_Store", "/api/v1/pods", "/boaform/admin/formLogin",
              "/solr/admin/info/system", "/login.action", "/HNAP1/")  # fmt: skip


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
        self.scan = [u.add(p, REMOVED, "", 0) for p in SCAN_PATHS]
        self.monitor_urls = [u.add(m[4], PAGE) for m in MONITORS]

    def _crawl_targets(self) -> tuple[np.ndarray, np.ndarray]:
        kinds = self.urls.kinds
        paths = [u for u in range(1, len(self.urls)) if kinds[u] in (PAGE, NEWS, PDF, OLD, REMOVED,
                                                                     FORM)]
        scan = set(self.scan)
        paths = [u for u in paths if u not in scan and "utm_" not in self.urls.paths[u]]
        weight = {PAGE: 1.0, NEWS: 1.0, PDF: 0.6, OLD: 0.5, REMOVED: 0.4, FORM: 0.3}
        w = np.array([weight[kinds[u]] for u in paths])
        return np.array(paths, dtype=np.int64), np.cumsum(w / w.sum())

    def day(self, rows: Rows, rng: np.random.Generator, t0: int, t1: int, target: int,
            day) -> int:
        """Add about `target` bot lines in [t0, t1); returns the number added."""
        added = 0
        span = t1 - t0
        mon_lines = sum(span // (m[2] * 1000) for m in MONITORS)
        thin = max(1, int(np.ceil(mon_lines / max(1, 0.35 * target))))
        for (ua, ip, interval, method, _path), url in zip(MONITORS, self.monitor_urls, strict=True):
            step = interval * 1000 * thin
            offs = int(rng.integers(0, step))
            t = np.arange(t0 + offs, t1, step, dtype=np.int64) + rng.integers(0, 900, 1)
            cid = self.clients.add([ip], np.array([self.uas.add(ua)]), np.array([HTTP11]),
                                   np.array([False]), bot=True)
            rows.add_log(t, cid, url, 200, 0, method=method)
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

    def _kind(self, rows: Rows, rng: np.random.Generator, kind: BotKind, n: int, t0: int,
              span: int, paths, cum, news, pages) -> int:
        # Clients for the day: an address of the kind's networks and one of its agents.
        m = kind.ips_per_day
        nets = [kind.nets[i] for i in rng.integers(0, len(kind.nets), m).tolist()]
        hosts = rng.integers(1, 255, (m, 2)).tolist()
        ips = [f"{net}.{h[1]}" if net.count(".") == 2 else f"{net}.{h[0]}.{h[1]}"
               for net, h in zip(nets, hosts, strict=True)]
        uw = np.array([w for _, w in kind.uas])
        ua_pick = np.minimum(np.searchsorted(np.cumsum(uw / uw.sum()), rng.random(m)),
                             len(kind.uas) - 1)
        ua_ids = np.array([self.uas.add(kind.uas[i][0]) for i in ua_pick.tolist()], dtype=np.int32)
        base = self.clients.add(ips, ua_ids, np.full(m, HTTP11, np.int8), np.zeros(m, bool),
                                bot=True)
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
            url = np.where(rng.random(n) < 0.7, news[rng.integers(0, len(news), n)],
                           pages[rng.integers(0, len(pages), n)])
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
