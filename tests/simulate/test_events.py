"""Tracker events: exactly the specified keys, consistent with the access log, and
sessions that the analytics can reconstruct."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from .conftest import Run

KEYS = ("ts", "ip", "ua", "type", "url", "referrer", "title", "query", "results", "target",
        "form", "field", "engagement_ms")  # fmt: skip
TYPES = {"pageview", "search", "download", "outlink", "form_start", "form_submit", "form_error",
         "rage_click", "engagement", "not_found"}  # fmt: skip
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$")
BASE = "https://www.musterstadt.de/"


def test_keys_types_and_order(run: Run):
    seen = Counter()
    for e in run.events:
        keys = list(e)
        assert set(keys) <= set(KEYS), keys
        assert keys == sorted(keys, key=KEYS.index), keys
        for k in ("ts", "ip", "ua", "type", "url"):
            assert k in e
        assert TS.match(e["ts"]), e["ts"]
        assert e["type"] in TYPES
        assert e["url"].startswith(BASE)
        t = e["type"]
        seen[t] += 1
        if t == "search":
            assert isinstance(e["query"], str) and e["query"]
            assert isinstance(e["results"], int) and e["results"] >= 0
            assert parse_qs(urlsplit(e["url"]).query)["q"] == [e["query"]]
            assert urlsplit(e["url"]).path == "/suche"
        else:
            assert "query" not in e and "results" not in e
        if t in ("download", "outlink"):
            assert e["target"].startswith("https://")
        else:
            assert "target" not in e
        if t.startswith("form_"):
            assert e["form"]
        else:
            assert "form" not in e and "field" not in e
        if t == "engagement":
            assert isinstance(e["engagement_ms"], int) and e["engagement_ms"] > 0
        else:
            assert "engagement_ms" not in e
        if t in ("pageview", "search", "not_found"):
            assert e["title"]
        if "referrer" in e:
            assert t in ("pageview", "search", "not_found")
    assert set(seen) == TYPES, seen


def test_events_are_time_ordered_and_agree_with_summary(run: Run):
    ts = [datetime.fromisoformat(e["ts"]) for e in run.events]
    assert all(a <= b for a, b in zip(ts, ts[1:], strict=False))
    assert len(run.events) == run.truth["events"] == run.summary["events"]


def test_every_event_client_is_in_the_log(run: Run):
    log_clients = {(x.ip, x.ua) for x in run.log}
    clients = {(e["ip"], e["ua"]) for e in run.events}
    assert clients <= log_clients


def test_pageviews_have_a_log_line(run: Run):
    lines = defaultdict(list)
    for x in run.log:
        lines[(x.ip, x.ua, x.path)].append(x.ts)
    views = [e for e in run.events if e["type"] in ("pageview", "search", "not_found")]
    missing = 0
    for e in views[::7]:
        path = e["url"][len(BASE) - 1 :]
        t = datetime.fromisoformat(e["ts"])
        near = [s for s in lines[(e["ip"], e["ua"], path)] if -5 <= (t - s).total_seconds() <= 5]
        missing += not near
    assert missing == 0


def test_not_found_events_for_dead_links(run: Run):
    broken = {b["path"] for b in run.truth["broken_links"]}
    nf = [e for e in run.events if e["type"] == "not_found"]
    assert nf
    assert {e["url"][len(BASE) - 1 :] for e in nf} <= broken
    assert all(e["referrer"].startswith(BASE) for e in nf)


def test_sessions_are_reconstructible(run: Run):
    """Visits keep one IP+UA and have no gap of 30 minutes; sessions per day match."""
    last: dict[tuple[str, str], datetime] = {}
    per_day = Counter()
    for e in run.events:
        t = datetime.fromisoformat(e["ts"])
        key = (e["ip"], e["ua"])
        p = last.get(key)
        if p is None or (t - p).total_seconds() > 1800:
            per_day[e["ts"][:10]] += 1
        last[key] = t
    truth = run.truth["tracked_sessions_per_day"]
    for day, n in truth.items():
        assert abs(per_day[day] - n) <= max(3, 0.01 * n), (day, per_day[day], n)
    # Tracked sessions are most, not all, sessions (some browsers block the tracker).
    all_s = sum(run.truth["sessions_per_day"].values())
    assert 0.85 * all_s <= sum(truth.values()) <= all_s


def test_log_sessions_of_humans_match_truth(run: Run):
    human = {(e["ip"], e["ua"]) for e in run.events}
    last: dict[tuple[str, str], datetime] = {}
    per_day = Counter()
    for x in run.log:
        key = (x.ip, x.ua)
        if key not in human:
            continue
        p = last.get(key)
        if p is None or (x.ts - p).total_seconds() > 1800:
            per_day[x.ts.date().isoformat()] += 1
        last[key] = x.ts
    truth = run.truth["tracked_sessions_per_day"]
    total = sum(per_day[d] for d in truth)
    assert abs(total - sum(truth.values())) <= 0.02 * sum(truth.values())


def test_visitors_rarely_share_network_and_agent(run: Run):
    """Distinct visitors on a day seldom share (IP /24, UA)."""
    per_day = defaultdict(set)
    sessions = Counter()
    for e in run.events:
        if e["type"] != "pageview" or "." not in e["ip"]:
            continue
        net = e["ip"].rsplit(".", 1)[0]
        per_day[e["ts"][:10]].add((net, e["ua"], e["ip"]))
    for day, items in per_day.items():
        nets = Counter((n, u) for n, u, _ in items)
        shared = sum(c for c in nets.values() if c > 1)
        sessions[day] = len(items)
        assert shared <= 0.02 * len(items), day


def test_forms_and_searches_happen(run: Run):
    types = Counter(e["type"] for e in run.events)
    assert types["form_submit"] < types["form_start"]
    assert types["search"] > 0.02 * types["pageview"]
    errors = [e for e in run.events if e["type"] == "form_error" and "field" in e]
    assert errors
    # The problem field of a problem form fails far more often than other fields.
    prob = run.truth["form_problems"][0]
    by_field = Counter(e["field"] for e in errors if e["form"] == prob["form"])
    assert by_field.most_common(1)[0][0] == prob["field"]
