"""Stored recommendations: identity across runs and dismissals learnt per kind and
service (a real DuckDB file)."""

from __future__ import annotations

from datetime import datetime

from amtspuls.config import Settings
from amtspuls.store import open_store
from amtspuls.store import recommendations as rq

NOW = datetime(2026, 3, 1, 12)
GROW = 1.5


def _finding(rid: str, kind: str, service: str, value: float) -> dict:
    return {"id": rid, "kind": kind, "service_id": service, "subject": rid,
            "department": None, "title": rid, "action": "…", "title_en": rid,
            "action_en": "…",
            "evidence": [{"metric": "m", "value": value, "baseline": 0, "period": "p",
                          "examples": []}],
            "impact": {"affected_visits_per_week": value, "affected_requests_per_week": 0},
            "confidence": 0.9, "score": value * 0.9, "metric": None, "main_value": value}


def test_a_dismissed_kind_stays_dismissed_for_its_service_unless_it_grows(tmp_path) -> None:
    store = open_store(Settings(data_dir=tmp_path))
    site = store.ensure_site("www.example.de")
    rq.save_run(store, site.id, [_finding("a", "broken_link", "s", 10)], NOW, GROW)
    rq.set_status(store, "a", "dismissed", NOW, "kein Handlungsbedarf", None, 10.0)
    changes = rq.save_run(store, site.id, [
        _finding("a", "broken_link", "s", 11),       # the same finding, a little more
        _finding("b", "broken_link", "s", 14),       # same kind and service, not grown
        _finding("c", "broken_link", "s", 16),       # grown beyond 1.5 × 10
        _finding("d", "broken_link", "other", 1),    # another service
        _finding("e", "zero_results", "s", 1),       # another kind
    ], NOW, GROW)
    status = {r["id"]: r["status"] for r in rq.list_all(store, site.id)}
    assert status == {"a": "dismissed", "b": "dismissed", "c": "open", "d": "open",
                      "e": "open"}
    assert ("b", None, "dismissed") in changes
    # a dismissed finding whose own evidence grows comes back
    rq.save_run(store, site.id, [_finding("a", "broken_link", "s", 16)], NOW, GROW)
    assert rq.get(store, site.id, "a")["status"] == "open"
    # findings missing from a run become inactive, not deleted
    assert {r["id"] for r in rq.list_all(store, site.id, active_only=True)} == {"a"}
    assert len(rq.list_all(store, site.id)) == 5
    store.close()
