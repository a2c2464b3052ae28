"""Time shapes, computed from the raw tracker events and log: weekly rhythm, public
holidays, daily rhythm, and every incident visible where it should be."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import holidays

from .conftest import Run

BASE = "https://www.musterstadt.de"


def _sessions_per_day(run: Run) -> dict[date, int]:
    last: dict[tuple[str, str], datetime] = {}
    per_day: Counter = Counter()
    for e in run.events:
        t = datetime.fromisoformat(e["ts"])
        key = (e["ip"], e["ua"])
        p = last.get(key)
        if p is None or (t - p).total_seconds() > 1800:
            per_day[t.date()] += 1
        last[key] = t
    days = [run.config.start + timedelta(days=i) for i in range(run.config.days)]
    return {d: per_day[d] for d in days}


def _iso(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_weekdays_busier_than_weekends(run: Run):
    per_day = _sessions_per_day(run)
    hol = holidays.country_holidays("DE", subdiv="NW", years=2026)
    work = [n for d, n in per_day.items() if d.weekday() < 5 and d not in hol]
    weekend = [n for d, n in per_day.items() if d.weekday() >= 5]
    assert sum(work) / len(work) > 1.35 * sum(weekend) / len(weekend)


def test_public_holidays_dip(run: Run):
    per_day = _sessions_per_day(run)
    hol = holidays.country_holidays("DE", subdiv="NW", years=2026)
    inside = [d for d in per_day if d in hol and d.weekday() < 5]
    assert inside, "the fixture run must contain a public holiday on a weekday"
    for d in inside:
        same = [n for x, n in per_day.items() if x.weekday() == d.weekday() and x not in hol]
        assert per_day[d] < 0.8 * sum(same) / len(same), d


def test_daily_rhythm_office_hours_and_night(run: Run):
    hours: Counter = Counter()
    for e in run.events:
        if e["type"] == "pageview":
            t = datetime.fromisoformat(e["ts"])
            if t.weekday() < 5:
                hours[t.hour] += 1
    assert hours[10] > 4 * hours[3]
    assert hours[10] > hours[12] or hours[11] > hours[12]  # lunch dip
    assert hours[20] > hours[4]


def _pageviews(run: Run, paths: set[str]) -> list[datetime]:
    return [
        datetime.fromisoformat(e["ts"])
        for e in run.events
        if e["type"] == "pageview" and e["url"].split("?")[0][len(BASE) :] in paths
    ]


def _rate(times: list[datetime], a: datetime, b: datetime) -> float:
    n = sum(1 for t in times if a <= t < b)
    return n / max(1.0, (b - a).total_seconds() / 3600)


def test_every_incident_kind_present(run: Run):
    kinds = {i["kind"] for i in run.truth["incidents"]}
    assert {"storm", "form_outage", "campaign", "viral_news"} <= kinds
    for i in run.truth["incidents"]:
        assert _iso(i["start"]) < _iso(i["end"])


def test_viral_news_spike(run: Run):
    for inc in (i for i in run.truth["incidents"] if i["kind"] == "viral_news"):
        times = _pageviews(run, {inc["path"]})
        a, b = _iso(inc["start"]), _iso(inc["end"])
        inside = _rate(times, a, b)
        outside = _rate(times, a - timedelta(days=3), a) + 0.1
        assert inside > 10 * outside, (inside, outside)


STORM_PAGES = {"/leistungen/strassensperrung", "/leistungen/baum-gefahr",
               "/leistungen/hochwasser", "/leistungen/warnungen"}  # fmt: skip


def _storm_ratio(run: Run, a: datetime, b: datetime) -> float:
    """Hourly rate of storm-page views in [a, b) over the rate in the rest of the run."""
    times = _pageviews(run, STORM_PAGES)
    first, last = min(times), max(times)
    inside = _rate(times, a, b)
    rest_n = sum(1 for t in times if not a <= t < b + timedelta(days=1))
    rest_h = (last - first).total_seconds() / 3600 - (b - a).total_seconds() / 3600 - 24
    return inside / (rest_n / rest_h)


def test_storm_traffic_and_reports(run: Run):
    for inc in (i for i in run.truth["incidents"] if i["kind"] == "storm"):
        a, b = _iso(inc["start"]), _iso(inc["end"])
        assert _storm_ratio(run, a, b) > 2.5
        # Citizens report fallen trees and flooding during and after the storm.
        stormy = {"baum_gefahr", "hochwasser"}
        cats = {t["service_request_id"]: t["category"] for t in run.truth["requests"]}
        win, out = Counter(), Counter()
        for r in run.requests:
            t = _iso(r["requested_datetime"])
            bucket = win if a <= t < b + timedelta(days=1) else out
            bucket[cats[r["service_request_id"]] in stormy] += 1
        assert win[True] / sum(win.values()) > 2 * out[True] / sum(out.values())


def test_storm_check_fails_where_there_was_no_storm(run: Run):
    """Negative control: the same check on a quiet window of the same length."""
    storm = next(i for i in run.truth["incidents"] if i["kind"] == "storm")
    a, b = _iso(storm["start"]), _iso(storm["end"])
    start = _iso(run.truth["start"] + "T00:00:00Z")
    for shift in range(1, 21):
        qa = start + timedelta(days=shift)
        qb = qa + (b - a)
        if qb < a - timedelta(days=1) or qa > b + timedelta(days=2):
            assert _storm_ratio(run, qa, qb) < 2.5
            return
    raise AssertionError("no quiet window found")


def test_campaign_surge(run: Run):
    for inc in (i for i in run.truth["incidents"] if i["kind"] == "campaign"):
        slug = inc["service_id"].replace("_", "-")
        times = _pageviews(run, {f"/leistungen/{slug}"})
        a = _iso(inc["start"])
        first = max(_iso(run.truth["start"] + "T00:00:00Z"), a - timedelta(days=6))
        before = _rate(times, first, a) if a - first > timedelta(hours=12) else None
        after = _rate(times, a, a + timedelta(days=2))
        later = _rate(times, _iso(inc["end"]), _iso(inc["end"]) + timedelta(days=3))
        base = before if before is not None else later
        assert after > 1.8 * (base + 0.05), (after, before, later)


def test_form_outage(run: Run):
    for inc in (i for i in run.truth["incidents"] if i["kind"] == "form_outage"):
        path = f"/online/{inc['form'].replace('_', '-')}"
        a, b = _iso(inc["start"]), _iso(inc["end"])
        posts = [x for x in run.log if x.method == "POST" and x.path == path]
        failed = [x for x in posts if x.status == 503]
        assert failed and all(a <= x.ts < b + timedelta(minutes=2) for x in failed)
        inside = [x for x in posts if a <= x.ts < b]
        assert sum(x.status == 503 for x in inside) >= 0.5 * len(inside)
        errors = [
            e for e in run.events
            if e["type"] == "form_error" and e.get("form") == inc["form"] and "field" not in e
        ]  # fmt: skip
        assert errors
        assert all(a <= datetime.fromisoformat(e["ts"]) < b + timedelta(minutes=3) for e in errors)


def test_flat_week_fails_the_rhythm_check(tmp_path):
    """Negative control: without a weekly rhythm the weekday/weekend check must fail."""
    from amtspuls.simulate import SimConfig, simulate
    from amtspuls.simulate.config import TrafficConfig

    from .conftest import load_run

    t = TrafficConfig(visits_per_day=400, weekday_factors=(1.0,) * 7, holiday_factor=1.0)
    t.hourly_weekend = t.hourly_weekday
    cfg = SimConfig(start=date(2026, 5, 4), days=14, seed=5, traffic=t)
    flat = load_run(tmp_path, cfg, simulate(tmp_path, cfg))
    per_day = _sessions_per_day(flat)
    work = [n for d, n in per_day.items() if d.weekday() < 5]
    weekend = [n for d, n in per_day.items() if d.weekday() >= 5]
    assert not sum(work) / len(work) > 1.35 * sum(weekend) / len(weekend)
