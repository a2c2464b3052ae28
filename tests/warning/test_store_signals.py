"""The store side of the signals: per-minute facts read from a real DuckDB store (keys,
news articles in their group, validation vs submission errors, Open311 requests per
category), and demand per day for the forecasts."""

from __future__ import annotations

from datetime import datetime

from warning_helpers import insert_events

from amtspuls.analyze.signals import Registry, VisitCounter, chunk_matrix
from amtspuls.config import Settings
from amtspuls.store import open_store
from amtspuls.store import signals as sq

T0 = datetime(2026, 3, 2, 9, 0)


def test_minute_facts_and_requests(tmp_path):
    store = open_store(Settings(data_dir=tmp_path))
    site = store.ensure_site("www.teststadt.de")
    at = lambda m: T0.replace(minute=m)  # noqa: E731
    insert_events(store, site.id, [
        {"ts": at(1), "type": "pageview", "session_id": 1, "path": "/leistungen/briefwahl",
         "service_id": "briefwahl"},
        # A news article the URL rules map to a service stays in its group.
        {"ts": at(1), "type": "pageview", "session_id": 2,
         "path": "/aktuelles/2026/briefwahl-so-gehts", "service_id": "briefwahl"},
        {"ts": at(2), "type": "pageview", "session_id": 3, "path": "/rathaus/buergermeister",
         "service_id": "none"},
        {"ts": at(3), "type": "form_error", "session_id": 1, "path": "/online/briefwahl",
         "service_id": "briefwahl", "form": "briefwahl", "field": "plz"},
        {"ts": at(3), "type": "form_error", "session_id": 1, "path": "/online/briefwahl",
         "service_id": "briefwahl", "form": "briefwahl"},
        {"ts": at(4), "type": "search", "session_id": 3, "path": "/suche", "service_id": "none",
         "search_results": 0},
        {"ts": at(59), "type": "pageview", "session_id": 4, "path": "/", "service_id": "none"},
    ])
    with store._lock:
        store.con.executemany(
            "INSERT INTO service_requests (site_id, service_request_id, token, service_id, "
            "requested_datetime, source) VALUES (?, ?, ?, ?, ?, 'test')",
            [(site.id, f"r{i}", f"t{i}", "strassenbeleuchtung", at(5 + i)) for i in range(3)])
    pages, counts = sq.minute_facts(store, site.id, T0, T0.replace(minute=59))
    rows = {(r["metric"], r["key"]) for r in pages.to_pylist()}
    assert rows == {("visits", "briefwahl"), ("visits", "/aktuelles"), ("visits", "/rathaus"),
                    ("validation_errors", "briefwahl"), ("submit_errors", "briefwahl")}
    c = {(r["metric"], r["key"]): r["n"] for r in counts.to_pylist()}
    assert c[("searches", "*")] == 1 and c[("zero_results", "*")] == 1
    assert c[("requests", "strassenbeleuchtung")] == 1  # one per minute
    assert sum(r["n"] for r in counts.to_pylist() if r["metric"] == "requests") == 3
    # The last minute is outside [T0, T0+59): read next time, not twice.
    assert all(r["minute"] < int(T0.replace(minute=59).timestamp() // 60) + 1
               for r in pages.to_pylist())
    reg, vc = Registry(), VisitCounter()
    lo = int((T0 - datetime(1970, 1, 1)).total_seconds() // 60)
    X = chunk_matrix(reg, vc, pages, counts, lo, lo + 59)
    assert ("requests", "strassenbeleuchtung") in reg.signal_index
    assert ("requests", "*") in reg.signal_index
    assert ("submit_error_rate", "briefwahl") in reg.signal_index
    assert X[reg.metric_index[("visits", "*")]].sum() == 3
    store.close()


def test_daily_demand_keys_like_the_detector(tmp_path):
    store = open_store(Settings(data_dir=tmp_path))
    site = store.ensure_site("www.teststadt.de")
    insert_events(store, site.id, [
        {"ts": T0, "type": "pageview", "session_id": 1, "path": "/leistungen/briefwahl",
         "service_id": "briefwahl"},
        {"ts": T0, "type": "pageview", "session_id": 1, "path": "/leistungen/briefwahl/info",
         "service_id": "briefwahl"},
        {"ts": T0, "type": "pageview", "session_id": 2, "path": "/aktuelles/2026/briefwahl-x",
         "service_id": "briefwahl"},
        {"ts": T0, "type": "form_submit", "session_id": 1, "path": "/online/briefwahl",
         "service_id": "briefwahl", "form": "briefwahl"},
    ])
    rows = sq.daily_service_demand(store, site.id, site.timezone)
    assert rows == [(T0.date(), "briefwahl", 1, 1)]
    store.close()


def test_entries_from_social_networks_and_campaign_links(tmp_path):
    """Pages entered from a social network or a campaign link are facts of their own,
    per service or page group, counted once per session and visit; they are no visits
    of the site (those are counted from `visits`)."""
    store = open_store(Settings(data_dir=tmp_path))
    site = store.ensure_site("www.teststadt.de")
    at = lambda m: T0.replace(minute=m)  # noqa: E731
    news = "/aktuelles/2026/kuriose-fundsache"
    insert_events(store, site.id, [
        {"ts": at(1), "type": "pageview", "session_id": 1, "path": news,
         "service_id": "none", "referrer_class": "social"},
        {"ts": at(2), "type": "pageview", "session_id": 1, "path": news,
         "service_id": "none", "referrer_class": "social"},  # reload: the same visit
        {"ts": at(3), "type": "pageview", "session_id": 1, "path": "/leistungen/fundsachen",
         "service_id": "fundsachen", "referrer_class": "internal"},
        {"ts": at(1), "type": "pageview", "session_id": 2, "path": news,
         "service_id": "none", "referrer_class": "search"},
        {"ts": at(4), "type": "pageview", "session_id": 3, "path": "/online/grundsteuer",
         "service_id": "grundsteuer", "referrer_class": "campaign"},
    ])
    pages, _ = sq.minute_facts(store, site.id, T0, T0.replace(minute=59))
    rows = sorted((r["metric"], r["key"], r["session_id"]) for r in pages.to_pylist()
                  if r["metric"].startswith("entries_"))
    assert rows == [("entries_campaign", "grundsteuer", 3), ("entries_social", "/aktuelles", 1),
                    ("entries_social", "/aktuelles", 1)]
    reg, vc = Registry(), VisitCounter()
    lo = int((T0 - datetime(1970, 1, 1)).total_seconds() // 60)
    X = chunk_matrix(reg, vc, pages, _, lo, lo + 59)
    assert ("social_entries", "/aktuelles") in reg.signal_index
    assert ("campaign_entries", "grundsteuer") in reg.signal_index
    assert reg.family_of(reg.signal_index[("social_entries", "/aktuelles")]).up
    assert X[reg.metric_index[("entries_social", "/aktuelles")]].sum() == 1
    assert X[reg.metric_index[("entries_campaign", "grundsteuer")]].sum() == 1
    assert X[reg.metric_index[("visits", "*")]].sum() == 3
    # The state keeps the families.
    again = Registry.from_json(reg.to_json())
    assert again.signals == reg.signals and again.num == reg.num
    store.close()
