"""The ground-truth file: every documented field, consistent with the raw files."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date

from .conftest import Run

REQUIRED = ("sessions_per_day", "session_outcomes", "searches_per_completed_form",
            "search_queries", "bot_lines", "total_lines", "incidents", "findability_problems",
            "form_problems", "broken_links", "fixes", "requests")  # fmt: skip
OUTCOMES = ("found", "gave_up", "submitted")


def test_required_fields(run: Run):
    t = run.truth
    for key in REQUIRED:
        assert key in t, key
    assert len(t["sessions_per_day"]) == run.config.days
    assert sum(t["sessions_per_day"].values()) == run.summary["sessions"]
    assert t["total_lines"] == t["bot_lines"] + t["human_lines"]
    for inc in t["incidents"]:
        assert {"kind", "service_id", "start", "end", "magnitude"} <= set(inc)
        assert inc["start"].endswith("Z") and inc["end"].endswith("Z")
    for r in t["requests"]:
        assert {"service_request_id", "category", "priority", "duplicate_group"} <= set(r)
        assert 1 <= r["priority"] <= 4
    for fp in t["form_problems"]:
        assert {"form", "service_id", "field", "error_rate"} <= set(fp)
    for b in t["broken_links"]:
        assert {"path", "referrers", "hits"} <= set(b)


def test_outcomes_are_known_labels(run: Run):
    labels = Counter()
    for per in run.truth["session_outcomes"].values():
        for outcomes in per.values():
            for label, n in outcomes.items():
                assert label in OUTCOMES or label.startswith("failed_at_field:"), label
                labels[label.split(":")[0]] += n
    assert all(labels[x] > 0 for x in (*OUTCOMES, "failed_at_field"))


def test_submissions_match_tracker(run: Run):
    submitted = Counter()
    for per in run.truth["session_outcomes"].values():
        for sid, outcomes in per.items():
            submitted[sid] += outcomes.get("submitted", 0)
    events = Counter(e["form"] for e in run.events if e["type"] == "form_submit")
    total_truth, total_events = sum(submitted.values()), sum(events.values())
    # Tracked sessions are a large subset; every tracked submission is a true one.
    assert 0.85 * total_truth <= total_events <= total_truth


def test_findability_problem_needs_more_searches(run: Run):
    spcf = run.truth["searches_per_completed_form"]
    problems = {p["service_id"] for p in run.truth["findability_problems"]}
    others = [v for k, v in spcf.items() if k not in problems]
    for p in run.truth["findability_problems"]:
        if p["searches_per_completed_form_before_fix"] and spcf.get(p["service_id"]):
            assert p["searches_per_completed_form_before_fix"] > statistics.median(others)


def test_fix_recorded_and_effective(run: Run):
    fixes = run.truth["fixes"]
    assert {f["kind"] for f in fixes} == {"findability", "form"}
    for f in fixes:
        assert run.config.start < date.fromisoformat(f["date"]) <= run.config.end
    form = next(p for p in run.truth["form_problems"] if p["fixed_on"])
    assert form["observed_error_rate_before_fix"] > 4 * form["observed_error_rate_after_fix"]
    # Independently from the tracker: errors at that field before and after the fix date.
    before = after = 0
    for e in run.events:
        if (
            e["type"] == "form_error"
            and e.get("form") == form["form"]
            and e.get("field") == form["field"]
        ):
            if e["ts"][:10] < form["fixed_on"]:
                before += 1
            else:
                after += 1
    days_before = (date.fromisoformat(form["fixed_on"]) - run.config.start).days
    days_after = run.config.days - days_before
    assert before / days_before > 3 * (after / days_after)


def test_query_intents_cover_searches(run: Run):
    stats = run.truth["search_query_stats"]
    assert set(stats) == set(run.truth["search_queries"])
    n = sum(s["n"] for s in stats.values())
    assert n == run.truth["query_count"]
    assert n >= sum(1 for e in run.events if e["type"] == "search")
