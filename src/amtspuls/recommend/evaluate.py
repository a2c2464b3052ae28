"""Recommendations against a simulator truth: is every injected problem answered, and is
every top recommendation founded?

Expected are the problems present in the analysis window: findability and form problems
still unfixed at its end (recommendations describe the current state; one fixed during
the window is not expected, but a recommendation on it counts as founded), broken links
with hits, incidents that started in the window, and duplicate groups of at least three
requests that started in it.
- recall: share of expected problems with a matching recommendation among the top 10
  recommendations of its service (a broken link matches by path, a duplicate group by
  shared requests, an incident by any of its services or its news path).
- precision: share of the top 10 judged recommendations that match a problem of the
  truth by the same rules (kind, and service, path or requests), fixed ones included.
  Kinds the truth cannot judge — forecast peaks and seasons (statements about the
  future) and PDF forms without an online service (a fact about the site's offer, not
  an injected defect) — are counted apart; `precision_all_kinds` counts them against
  the top ten as well.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

TOP = 10
NOT_JUDGED = ("forecast_peak", "seasonal_demand", "pdf_without_online")
MIN_DUPLICATES = 3
FINDABILITY_KINDS = ("search_before_form", "zero_results")
FORM_KINDS = ("form_field_errors", "form_abandonment", "mobile_problem")
INCIDENT_KINDS = ("demand_spike", "form_outage", "growing_topic")


def _local_day(iso: str, tz: str) -> date:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(tz)).date()


def expected_problems(truth: dict[str, Any], d_from: date, d_to: date,
                      request_days: dict[str, date] | None = None) -> list[dict[str, Any]]:
    """`request_days`: local day of each imported request (the truth has no times)."""
    tz = truth.get("timezone") or "Europe/Berlin"

    def state(p: dict[str, Any]) -> str | None:
        """expected: present at the window's end; fixed: fixed during the window (a
        recommendation on it is founded, but none is required); None: fixed before."""
        if not p.get("fixed_on") or date.fromisoformat(p["fixed_on"]) > d_to:
            return "expected"
        return "fixed" if date.fromisoformat(p["fixed_on"]) >= d_from else None

    out: list[dict[str, Any]] = []
    for p in truth.get("findability_problems", []):
        if st := state(p):
            out.append({"type": "findability", "service_id": p["service_id"], "state": st})
    for p in truth.get("form_problems", []):
        if st := state(p):
            out.append({"type": "form", "service_id": p["service_id"], "field": p["field"],
                        "state": st})
    for b in truth.get("broken_links", []):
        if b.get("hits", 0) >= 5:
            out.append({"type": "broken_link", "service_id": b.get("service_id", "none"),
                        "path": b["path"]})
    for inc in truth.get("incidents", []):
        if d_from <= _local_day(inc["start"], tz) <= d_to:
            services = set(inc.get("services") or {}) | {inc.get("service_id", "none")}
            services.discard("none")
            out.append({"type": "incident", "kind": inc["kind"],
                         "service_id": inc.get("service_id", "none"),
                         "services": sorted(services), "path": inc.get("path"),
                         "start": inc["start"]})
    groups: dict[Any, list[dict]] = defaultdict(list)
    for r in truth.get("requests", []):
        if r.get("duplicate_group") is not None:
            groups[r["duplicate_group"]].append(r)
    days = request_days or {}
    for g, members in groups.items():
        if len(members) < MIN_DUPLICATES:
            continue
        seen = [days[m["service_request_id"]] for m in members
                if m["service_request_id"] in days]
        if not any(d_from <= d <= d_to for d in seen):
            continue  # not imported, or outside the window
        out.append({"type": "duplicates", "service_id": members[0]["category"],
                    "group": g, "requests": sorted(m["service_request_id"] for m in members)})
    return out


def _paths(rec: dict[str, Any]) -> set[str]:
    out = {rec.get("subject") or ""}
    for ev in rec.get("evidence", []):
        out.add(ev.get("path") or "")
        out.add(str(ev.get("signal_key") or ""))
        out.update(e.get("text", "") for e in ev.get("examples", []))
    return {p for p in out if p}


def _requests(rec: dict[str, Any]) -> set[str]:
    return {i for ev in rec.get("evidence", []) for i in ev.get("requests", [])}


def matches(problem: dict[str, Any], rec: dict[str, Any]) -> bool:
    t, kind, sid = problem["type"], rec["kind"], rec["service_id"]
    if t == "findability":
        return kind in FINDABILITY_KINDS and sid == problem["service_id"]
    if t == "form":
        return kind in FORM_KINDS and sid == problem["service_id"]
    if t == "broken_link":
        return kind == "broken_link" and problem["path"] in _paths(rec)
    if t == "incident":
        if kind not in INCIDENT_KINDS:
            return False
        return sid in problem["services"] or bool(problem.get("path")
                                                  and problem["path"] in _paths(rec))
    if t == "duplicates":
        return kind == "duplicate_cluster" and len(_requests(rec) & set(problem["requests"])) >= 2
    return False


def evaluate(recs: list[dict[str, Any]], truth: dict[str, Any], d_from: date, d_to: date,
             request_days: dict[str, date] | None = None) -> dict[str, Any]:
    """`recs` in rank order, as `engine.list_recommendations` gives them."""
    known = expected_problems(truth, d_from, d_to, request_days)
    problems = [p for p in known if p.get("state", "expected") == "expected"]
    by_service: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        by_service[r["service_id"]].append(r)
    top_of_service = {s: rs[:TOP] for s, rs in by_service.items()}
    missed, per_type = [], defaultdict(lambda: [0, 0])
    for p in problems:
        ok = any(matches(p, r) for rs in top_of_service.values() for r in rs)
        per_type[p["type"]][1] += 1
        if ok:
            per_type[p["type"]][0] += 1
        else:
            missed.append(p)
    judged = [r for r in recs if r["kind"] not in NOT_JUDGED and r["status"] != "dismissed"]
    top = judged[:TOP]
    unfounded = []
    for r in top:
        if not any(matches(p, r) for p in known):
            unfounded.append({"id": r["id"], "kind": r["kind"], "service_id": r["service_id"],
                              "title": r["title"]})
    # the strict reading: every kind in the top 10, unjudgeable ones counting against it
    top_all = [r for r in recs if r["status"] != "dismissed"][:TOP]
    strict = sum(1 for r in top_all if any(matches(p, r) for p in known))
    n = len(problems)
    return {
        "recall": round((n - len(missed)) / n, 4) if n else None,
        "precision": round((len(top) - len(unfounded)) / len(top), 4) if top else None,
        "precision_all_kinds": round(strict / len(top_all), 4) if top_all else None,
        "missed": missed,
        "unfounded": unfounded,
        "expected": n,
        "by_type": {t: {"matched": v[0], "expected": v[1]} for t, v in sorted(per_type.items())},
        "window": f"{d_from.isoformat()}/{d_to.isoformat()}",
        "top": TOP,
        "recommendations": len(recs),
        "not_judged": sum(1 for r in recs if r["kind"] in NOT_JUDGED),
        "without_evidence": sum(1 for r in recs if not r.get("evidence")),
    }
