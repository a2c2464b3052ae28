"""The access log: valid combined format, time order, DST-correct offsets, bots,
assets on the first page only, redirects and dead internal links."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from .conftest import Run

BERLIN = ZoneInfo("Europe/Berlin")
BOT_UA = re.compile(
    r"bot|crawl|spider|slurp|python-requests|curl/|wget|go-http-client|okhttp|scrapy|aiohttp|"
    r"httpclient|node-fetch|headless|lighthouse|externalhit|externalagent|uptime|pingdom|"
    r"check_http|feedly|newsblur|rss|zgrab|censys|l9scan|expanse",
    re.I,
)
_BOT_CACHE: dict[str, bool] = {}


def is_bot(ua: str) -> bool:
    hit = _BOT_CACHE.get(ua)
    if hit is None:
        hit = _BOT_CACHE[ua] = bool(BOT_UA.search(ua))
    return hit


ASSET = re.compile(r"\.(css|js|png|svg|woff2|ico|jpg)(\?|$)")


def test_every_line_is_combined_format(run: Run):
    bad = [raw for raw, parsed in zip(run.raw_log, run.log, strict=True) if parsed is None]
    assert not bad, bad[:3]
    assert len(run.log) == run.truth["total_lines"] == run.summary["log_lines"]


def test_lines_are_time_ordered(run: Run):
    ts = [x.ts for x in run.log]
    assert all(a <= b for a, b in zip(ts, ts[1:], strict=False))


def test_offsets_follow_berlin_dst(run: Run):
    offsets = Counter()
    for x in run.log:
        # The written offset must be the zone's offset at that instant.
        assert x.ts.utcoffset() == x.ts.astimezone(BERLIN).utcoffset(), x
        offsets[x.ts.utcoffset()] += 1
    # The run covers the change to summer time on 29 March 2026.
    assert set(offsets) == {timedelta(hours=1), timedelta(hours=2)}
    switch = [x.ts for x in run.log if x.ts.date().isoformat() == "2026-03-29"]
    assert not [t for t in switch if t.hour == 2], "02:xx does not exist on 29 March"


def test_bot_share_within_30_to_45_percent(run: Run):
    total = len(run.log)
    share = run.truth["bot_lines"] / total
    assert 0.30 <= share <= 0.45
    # Independently: lines whose agent says it is a bot (stealth scrapers are not counted).
    by_ua = sum(1 for x in run.log if is_bot(x.ua))
    assert 0.25 <= by_ua / total <= 0.45
    assert by_ua <= run.truth["bot_lines"]
    # Per day too (lines by local date).
    per_day, bots = Counter(), Counter()
    for x in run.log:
        per_day[x.ts.date()] += 1
        bots[x.ts.date()] += is_bot(x.ua)
    full_days = [d for d in per_day if per_day[d] > 3000]
    assert len(full_days) >= run.config.days - 1
    for d in full_days:
        assert 0.22 <= bots[d] / per_day[d] <= 0.46, d


def test_known_crawlers_and_tools_present(run: Run):
    agents = " ".join({x.ua for x in run.log})
    for name in ("Googlebot", "bingbot", "AhrefsBot", "SemrushBot", "python-requests", "curl/",
                 "UptimeRobot", "GPTBot"):  # fmt: skip
        assert name in agents, name


def test_devices_and_browsers_look_german(run: Run):
    first = {}
    for e in run.events:
        first.setdefault((e["ip"], e["ua"]), e["ua"])
    uas = list(first.values())
    mobile = sum(1 for u in uas if "Mobile" in u or "iPhone" in u) / len(uas)
    assert 0.45 <= mobile <= 0.65
    for marker in ("Chrome/", "Safari/", "Firefox/", "Edg/", "SamsungBrowser/"):
        assert any(marker in u for u in uas), marker


def test_assets_loaded_once_per_visit(run: Run):
    """A browser loads CSS/JS on the first page of a visit and then caches them."""
    human = {(e["ip"], e["ua"]) for e in run.events}
    lines = defaultdict(list)
    for x in run.log:
        if (x.ip, x.ua) in human:
            lines[(x.ip, x.ua)].append(x)
    css_per_session = Counter()
    pages = 0
    for client, rows in lines.items():
        last = None
        session = 0
        for x in rows:
            if last is None or (x.ts - last).total_seconds() > 1800:
                session += 1
            last = x.ts
            if "main.min.css" in x.path:
                css_per_session[(client, session)] += 1
            elif not ASSET.search(x.path) and x.method == "GET" and x.status == 200:
                pages += 1
    assert css_per_session and max(css_per_session.values()) == 1
    # Assets come with pages: on average more than one asset line per visit, and the
    # referrer of a stylesheet is a page of the site.
    assert sum(css_per_session.values()) < pages


def test_assets_have_page_referrer(run: Run):
    css = [x for x in run.log if "main.min.css" in x.path and not is_bot(x.ua)]
    assert css
    assert all(x.ref.startswith("https://www.musterstadt.de/") for x in css)


def test_redirects_and_statuses(run: Run):
    status = Counter(x.status for x in run.log)
    for code in (200, 301, 302, 304, 404):
        assert status[code] > 0, code
    # A human landing on an old URL is redirected, then fetches the new page.
    human = {(e["ip"], e["ua"]) for e in run.events}
    redirected = [
        (i, x) for i, x in enumerate(run.log) if x.status == 301 and (x.ip, x.ua) in human
    ]
    assert redirected
    followed = 0
    for i, x in redirected[:200]:
        nxt = [y for y in run.log[i + 1 : i + 400] if (y.ip, y.ua) == (x.ip, x.ua)]
        if nxt and nxt[0].status == 200 and nxt[0].method == "GET":
            followed += 1
    assert followed >= 0.9 * min(200, len(redirected))


def test_dead_links_have_internal_referrers(run: Run):
    broken = {b["path"]: b for b in run.truth["broken_links"]}
    assert broken
    human = {(e["ip"], e["ua"]) for e in run.events}
    hits = Counter()
    for x in run.log:
        if x.path in broken and (x.ip, x.ua) in human:
            assert x.status == 404
            ref = x.ref.removeprefix("https://www.musterstadt.de")
            assert ref in broken[x.path]["referrers"], (x.path, x.ref)
            hits[x.path] += 1
    assert sum(hits.values()) > 0
    for path, b in broken.items():
        # Tracked visits are a subset of all visits that hit the dead link.
        assert hits[path] <= b["hits"]


def test_form_posts_redirect_or_fail(run: Run):
    posts = [x for x in run.log if x.method == "POST" and x.path.startswith("/online/")]
    assert posts
    assert {x.status for x in posts} <= {302, 503}


def test_utc_conversion_of_day_boundaries(run: Run):
    """Lines are grouped by local day: the first line of the run is on the start date."""
    first = run.log[0].ts
    assert first.date() == run.config.start
    assert first.astimezone(UTC) >= first.replace(hour=0, minute=0, second=0).astimezone(UTC)
