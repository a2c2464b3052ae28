"""Recommendations in the store (tables of migration 5) and the few event queries the
recommendation rules and their before/after proof need beyond `store.needs`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from amtspuls.store.duckdb_store import DuckDBStore

STATUSES = ("open", "accepted", "done", "dismissed")
_JSON_COLS = ("evidence", "impact", "metric", "effect", "wording")
_COLS = ("id, site_id, kind, service_id, subject, department, title, action, title_en, "
         "action_en, evidence, impact, "
         "confidence, score, metric, status, reason, active, created, updated, status_changed, "
         "effective, dismissed_value, effect, wording")


def _exec(store: DuckDBStore, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list:
    return store.write(sql, params)


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for k in _JSON_COLS:
        if isinstance(row.get(k), str):
            row[k] = json.loads(row[k])
    return row


def _dump(v: Any) -> str | None:
    return None if v is None else json.dumps(v, ensure_ascii=False, default=str)


# -- recommendations ----------------------------------------------------------------------

def get(store: DuckDBStore, site_id: int, rec_id: str) -> dict[str, Any] | None:
    rows = store.query(f"SELECT {_COLS} FROM recommendations WHERE site_id = $s AND id = $id",
                       {"s": site_id, "id": rec_id})
    return _decode(rows[0]) if rows else None


def list_all(store: DuckDBStore, site_id: int, statuses: Sequence[str] | None = None,
             active_only: bool = False) -> list[dict[str, Any]]:
    where = ["site_id = $s"]
    params: dict[str, Any] = {"s": site_id}
    if statuses:
        where.append("status IN (SELECT unnest($st))")
        params["st"] = list(statuses)
    if active_only:
        where.append("active")
    rows = store.query(f"SELECT {_COLS} FROM recommendations WHERE {' AND '.join(where)} "
                       "ORDER BY score DESC, id", params)
    return [_decode(r) for r in rows]


def save_run(store: DuckDBStore, site_id: int, found: list[dict[str, Any]], now: datetime,
             grow_factor: float) -> list[tuple[str, str | None, str]]:
    """Insert new findings, update known ones, mark the rest inactive. A dismissed finding
    whose main value grew by `grow_factor` since dismissal is reopened. Dismissals are
    learnt per kind and service: a new finding of a kind dismissed for its service starts
    dismissed too unless its main value exceeds the dismissed one by `grow_factor`.
    Returns the status changes made (id, old, new) so the caller can log them."""
    known = {r["id"]: r for r in store.query(
        "SELECT id, kind, service_id, status, dismissed_value FROM recommendations "
        "WHERE site_id = $s", {"s": site_id})}
    dismissed: dict[tuple[str, str], float] = {}
    for r in known.values():
        if r["status"] == "dismissed" and r["dismissed_value"] is not None:
            key = (r["kind"], r["service_id"])
            dismissed[key] = max(dismissed.get(key, 0.0), float(r["dismissed_value"]))
    changes: list[tuple[str, str | None, str]] = []
    with store.write_lock:
        cur = store.cursor()
        try:
            cur.execute("BEGIN")
            cur.execute("UPDATE recommendations SET active = false WHERE site_id = ?", [site_id])
            for f in found:
                old = known.get(f["id"])
                if old is None:
                    like = dismissed.get((f["kind"], f["service_id"]))
                    learnt = like is not None and f["main_value"] <= grow_factor * like
                    status = "dismissed" if learnt else "open"
                    cur.execute(
                        "INSERT INTO recommendations (id, site_id, kind, service_id, subject, "
                        "department, title, action, title_en, action_en, evidence, impact, "
                        "confidence, score, metric, status, reason, active, created, updated, "
                        "dismissed_value) VALUES "
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, true, ?, ?, ?)",
                        [f["id"], site_id, f["kind"], f["service_id"], f["subject"],
                         f["department"], f["title"], f["action"], f["title_en"],
                         f["action_en"], _dump(f["evidence"]),
                         _dump(f["impact"]), f["confidence"], f["score"], _dump(f["metric"]),
                         status, "wie eine verworfene Empfehlung dieser Art" if learnt else None,
                         now, now, like if learnt else None])
                    changes.append((f["id"], None, status))
                    continue
                status = old["status"]
                if (status == "dismissed" and old["dismissed_value"] is not None
                        and f["main_value"] > grow_factor * float(old["dismissed_value"])):
                    status = "open"
                    changes.append((f["id"], "dismissed", "open"))
                cur.execute(
                    "UPDATE recommendations SET department = ?, title = ?, action = ?, "
                    "title_en = ?, action_en = ?, "
                    "evidence = ?, impact = ?, confidence = ?, score = ?, metric = ?, "
                    "active = true, updated = ?, status = ?, "
                    "status_changed = CASE WHEN status <> ? THEN ? ELSE status_changed END "
                    "WHERE id = ?",
                    [f["department"], f["title"], f["action"], f["title_en"], f["action_en"],
                     _dump(f["evidence"]),
                     _dump(f["impact"]), f["confidence"], f["score"], _dump(f["metric"]), now,
                     status, status, now, f["id"]])
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()
    return changes


def set_status(store: DuckDBStore, rec_id: str, status: str, now: datetime,
               reason: str | None, effective: date | None,
               dismissed_value: float | None) -> None:
    _exec(store,
          "UPDATE recommendations SET status = ?, reason = ?, status_changed = ?, "
          "effective = ?, dismissed_value = ?, effect = CASE WHEN ? = 'done' THEN effect "
          "ELSE NULL END WHERE id = ?",
          [status, reason, now, effective, dismissed_value, status, rec_id])


def save_effect(store: DuckDBStore, rec_id: str, effect: dict[str, Any] | None) -> None:
    _exec(store, "UPDATE recommendations SET effect = ? WHERE id = ?", [_dump(effect), rec_id])


def save_wording(store: DuckDBStore, rec_id: str, wording: dict[str, Any] | None) -> None:
    _exec(store, "UPDATE recommendations SET wording = ? WHERE id = ?",
          [_dump(wording), rec_id])


def log_event(store: DuckDBStore, rec_id: str, old: str | None, new: str, actor: str | None,
              note: str | None = None) -> None:
    _exec(store,
          "INSERT INTO recommendation_events (id, rec_id, actor, old_status, new_status, note) "
          "VALUES (nextval('recommendation_event_ids'), ?, ?, ?, ?, ?)",
          [rec_id, actor, old, new, note])


def history(store: DuckDBStore, rec_id: str) -> list[dict[str, Any]]:
    return store.query("SELECT ts, actor, old_status, new_status, note FROM "
                       "recommendation_events WHERE rec_id = $id ORDER BY id", {"id": rec_id})


# -- event queries for the rules ------------------------------------------------------------

_WINDOW = "site_id = $site AND ts >= $lo AND ts < $hi"


def form_sessions_by_device(store: DuckDBStore, site_id: int, lo: datetime, hi: datetime
                            ) -> list[dict[str, Any]]:
    """Per form and device class (mobile / desktop / tablet): sessions that started the
    form, that submitted it, and their distinct visitors."""
    return store.query(
        f"""
        WITH f AS (
            SELECT form, session_id, any_value(visitor_id) AS visitor_id,
                   any_value(coalesce(device, 'unknown')) AS device,
                   bool_or(type = 'form_start') AS started,
                   bool_or(type = 'form_submit') AS submitted
            FROM events WHERE {_WINDOW} AND form IS NOT NULL
              AND type IN ('form_start', 'form_submit')
            GROUP BY 1, 2
        )
        SELECT form, device, count(*) FILTER (WHERE started) AS started,
               count(*) FILTER (WHERE started AND submitted) AS submitted,
               count(DISTINCT visitor_id) AS visitors
        FROM f GROUP BY 1, 2 ORDER BY 1, 2
        """, {"site": site_id, "lo": lo, "hi": hi})


def abandon_steps(store: DuckDBStore, site_id: int, lo: datetime, hi: datetime
                  ) -> list[dict[str, Any]]:
    """Per form: the field of the last error in sessions that started and never
    submitted it (where people give up)."""
    return store.query(
        f"""
        WITH f AS (
            SELECT form, session_id, any_value(visitor_id) AS visitor_id,
                   bool_or(type = 'form_submit') AS submitted,
                   arg_max(field, ts) FILTER (WHERE type = 'form_error') AS last_error
            FROM events WHERE {_WINDOW} AND form IS NOT NULL
              AND type IN ('form_start', 'form_submit', 'form_error')
            GROUP BY 1, 2
        )
        SELECT form, coalesce(last_error, '') AS field, count(*) AS sessions,
               count(DISTINCT visitor_id) AS visitors
        FROM f WHERE NOT submitted GROUP BY 1, 2 ORDER BY 1, sessions DESC
        """, {"site": site_id, "lo": lo, "hi": hi})


def requests_for_clusters(store: DuckDBStore, site_id: int, lo: datetime, hi: datetime
                          ) -> list[dict[str, Any]]:
    """Requests of [lo, hi) with place, time, status and triage's duplicate group."""
    if not store.query("SELECT 1 FROM information_schema.tables "
                       "WHERE table_name = 'request_triage'"):
        return []
    return store.query(
        """
        SELECT r.service_request_id AS id, r.service_id, r.lat, r.long,
               r.requested_datetime AS ts, r.address_string AS address, r.status,
               t.duplicate_group AS grp
        FROM service_requests r LEFT JOIN request_triage t USING (site_id, service_request_id)
        WHERE r.site_id = $site AND r.requested_datetime >= $lo
          AND r.requested_datetime < $hi
        ORDER BY r.requested_datetime, r.service_request_id
        """, {"site": site_id, "lo": lo, "hi": hi})


def requests_per_service(store: DuckDBStore, site_id: int, lo: datetime, hi: datetime
                         ) -> dict[str, int]:
    if not store.query("SELECT 1 FROM information_schema.tables "
                       "WHERE table_name = 'service_requests'"):
        return {}
    rows = store.query("SELECT service_id, count(*) AS n FROM service_requests "
                       "WHERE site_id = $site AND requested_datetime >= $lo "
                       "AND requested_datetime < $hi GROUP BY 1",
                       {"site": site_id, "lo": lo, "hi": hi})
    return {r["service_id"]: int(r["n"]) for r in rows}


# -- daily series for the before/after proof -----------------------------------------------

def _local_day(tz: str) -> str:
    tz = tz.replace("'", "")
    return f"CAST(timezone('{tz}', ts AT TIME ZONE 'UTC') AS DATE)"


def daily_search_per_form(store: DuckDBStore, site_id: int, tz: str) -> list[dict[str, Any]]:
    """Per local day and service: completed forms, and searches in the sessions that
    completed them (the day is the submit's)."""
    day = _local_day(tz)
    return store.query(
        f"""
        WITH sub AS (
            SELECT service_id, session_id, min({day}) AS day, count(*) AS submits
            FROM events WHERE site_id = $site AND type = 'form_submit'
              AND coalesce(service_id, 'none') <> 'none'
            GROUP BY 1, 2
        ), se AS (
            SELECT session_id, count(*) AS searches FROM events
            WHERE site_id = $site AND type = 'search' GROUP BY 1
        )
        SELECT day, service_id, sum(submits) AS den, sum(coalesce(searches, 0)) AS num
        FROM sub LEFT JOIN se USING (session_id) GROUP BY 1, 2 ORDER BY 1, 2
        """, {"site": site_id})


def daily_field_errors(store: DuckDBStore, site_id: int, tz: str) -> list[dict[str, Any]]:
    """Per local day and form: form starts, and per field the sessions with an error at it
    (keyed `form` and `form|field`)."""
    day = _local_day(tz)
    starts = store.query(
        f"SELECT {day} AS day, form AS key, count(*) AS n FROM events "
        "WHERE site_id = $site AND type = 'form_start' AND form IS NOT NULL GROUP BY 1, 2",
        {"site": site_id})
    errors = store.query(
        f"SELECT {day} AS day, form || '|' || field AS key, count(DISTINCT session_id) AS n "
        "FROM events WHERE site_id = $site AND type = 'form_error' AND form IS NOT NULL "
        "AND field IS NOT NULL GROUP BY 1, 2", {"site": site_id})
    return starts + errors


def daily_form_outcomes(store: DuckDBStore, site_id: int, tz: str) -> list[dict[str, Any]]:
    """Per local day and form: sessions that started it, and those that gave up."""
    day = _local_day(tz)
    return store.query(
        f"""
        WITH f AS (
            SELECT form, session_id, min({day}) AS day,
                   bool_or(type = 'form_start') AS started,
                   bool_or(type = 'form_submit') AS submitted
            FROM events WHERE site_id = $site AND form IS NOT NULL
              AND type IN ('form_start', 'form_submit') GROUP BY 1, 2
        )
        SELECT day, form AS key, count(*) FILTER (WHERE started) AS den,
               count(*) FILTER (WHERE started AND NOT submitted) AS num
        FROM f GROUP BY 1, 2
        """, {"site": site_id})


def daily_not_found(store: DuckDBStore, site_id: int, tz: str) -> list[dict[str, Any]]:
    """Per local day and path: 404s reached from the site's own pages, and all
    pageviews (the exposure)."""
    day = _local_day(tz)
    return store.query(
        f"""
        SELECT {day} AS day, path AS key,
               count(*) FILTER (WHERE type = 'not_found' AND referrer_class = 'internal') AS num
        FROM events WHERE site_id = $site AND type = 'not_found' GROUP BY 1, 2
        UNION ALL
        SELECT {day} AS day, '*' AS key, count(*) AS num FROM events
        WHERE site_id = $site AND type = 'pageview' GROUP BY 1, 2
        """, {"site": site_id})


def daily_search_queries(store: DuckDBStore, site_id: int, tz: str) -> list[dict[str, Any]]:
    """Per local day and query: searches, and those without results."""
    day = _local_day(tz)
    return store.query(
        f"SELECT {day} AS day, search_query AS key, count(*) AS den, "
        "count(*) FILTER (WHERE search_results = 0) AS num FROM events "
        "WHERE site_id = $site AND type = 'search' AND search_query IS NOT NULL "
        "GROUP BY 1, 2", {"site": site_id})


def request_times(store: DuckDBStore, site_id: int) -> list[dict[str, Any]]:
    if not store.query("SELECT 1 FROM information_schema.tables "
                       "WHERE table_name = 'service_requests'"):
        return []
    return store.query("SELECT service_request_id, requested_datetime FROM service_requests "
                       "WHERE site_id = $s", {"s": site_id})
