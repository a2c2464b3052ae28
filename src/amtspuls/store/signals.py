"""Stored-data SQL of the early warning: per-minute signal facts read incrementally from
`events` (and `service_requests` where that table exists), the detector's persisted
state, alerts and their deliveries, and daily demand for forecasting."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from amtspuls.store.duckdb_store import DuckDBStore

# Page groups whose pages are news, not a service, even where the URL rules map an
# article to one ("/aktuelles/2026/briefwahl-so-funktioniert…"): they stay in their group.
NEWS_GROUPS = ("/aktuelles", "/news", "/nachrichten", "/presse", "/pressemitteilungen",
               "/meldungen", "/neuigkeiten", "/blog")
GROUP_SQL = "'/' || split_part(coalesce(path, '/'), '/', 2)"


def key_sql(news_groups: tuple[str, ...] = NEWS_GROUPS) -> str:
    """The key of a page: its service, else its page group (first path segment, "/" for
    the home page); pages of news groups always their group. One expression, so that the
    detector and the evidence queries agree."""
    groups = ", ".join("'" + g.replace("'", "''") + "'" for g in news_groups) or "NULL"
    return (
        f"CASE WHEN {GROUP_SQL} IN ({groups}) THEN {GROUP_SQL} "
        "WHEN service_id IS NOT NULL AND service_id <> 'none' THEN service_id "
        f"ELSE {GROUP_SQL} END"
    )

MINUTE_SQL = "CAST(epoch_ms(ts) // 60000 AS BIGINT)"

# External referrer classes whose entries are a signal of their own: few visitors arrive
# this way, so a shared news item or a letter with a QR code stands out early.
ENTRY_CLASSES = ("social", "campaign")

# Column names another module may give the Open311 request table; the first present wins.
REQUEST_TS_COLUMNS = ("requested_ts", "requested_datetime", "requested_at", "ts", "created")
REQUEST_CATEGORY_COLUMNS = ("category", "service_id", "service_code")


def _rows(store: DuckDBStore, sql: str, params: dict[str, Any] | list[Any] | None = None
          ) -> list[tuple]:
    cur = store.cursor()
    try:
        return cur.execute(sql, params or {}).fetchall()
    finally:
        cur.close()


def _arrow(store: DuckDBStore, sql: str, params: dict[str, Any]) -> pa.Table:
    cur = store.cursor()
    try:
        return cur.sql(sql, params=params).to_arrow_table()
    finally:
        cur.close()


def table_columns(store: DuckDBStore, table: str) -> list[str]:
    rows = _rows(
        store,
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position",
        [table],
    )
    return [r[0] for r in rows]


def request_columns(store: DuckDBStore) -> tuple[str, str, bool] | None:
    """(timestamp column, category column, has site_id) of `service_requests`, or None
    while no such table exists (the request signal is then skipped)."""
    cols = table_columns(store, "service_requests")
    if not cols:
        return None
    ts = next((c for c in REQUEST_TS_COLUMNS if c in cols), None)
    cat = next((c for c in REQUEST_CATEGORY_COLUMNS if c in cols), None)
    if ts is None or cat is None:
        return None
    return ts, cat, "site_id" in cols


# -- signal facts ----------------------------------------------------------------------

def event_bounds(store: DuckDBStore, site_id: int) -> tuple[datetime | None, datetime | None]:
    rows = _rows(store, "SELECT min(ts), max(ts) FROM events WHERE site_id = ?", [site_id])
    return rows[0][0], rows[0][1]


def minute_facts(store: DuckDBStore, site_id: int, lo: datetime, hi: datetime,
                 news_groups: tuple[str, ...] = NEWS_GROUPS) -> tuple[pa.Table, pa.Table]:
    """Facts of events with lo <= ts < hi (naive UTC), aggregated per minute:

    - session rows: (session_id, metric, key, minute) for each page a session looked
      at (metric `visits`) and each form error it met (`validation_errors` with a field,
      `submit_errors` without one) in a minute, and each page a session entered from a
      social network or a campaign link (`entries_social`, `entries_campaign`: the
      external referrer class of the page view); the detector counts each session once
      per key and visit without re-reading history;
    - counts: (minute, metric, key, n) for searches, zero-result searches, form starts,
      submissions, page views and 404s, and (where the table exists) service requests
      per category.
    """
    params = {"site": site_id, "lo": lo, "hi": hi}
    entry_sql = ", ".join(f"'{c}'" for c in ENTRY_CLASSES)
    pages = _arrow(
        store,
        f"""
        SELECT session_id,
               CASE WHEN type = 'pageview' THEN 'visits'
                    WHEN field IS NULL OR field = '' THEN 'submit_errors'
                    ELSE 'validation_errors' END AS metric,
               CASE WHEN type = 'pageview' THEN {key_sql(news_groups)}
                    ELSE coalesce(nullif(form, ''), service_id, 'none') END AS key,
               {MINUTE_SQL} AS minute
        FROM events
        WHERE site_id = $site AND ts >= $lo AND ts < $hi
          AND type IN ('pageview', 'form_error')
        GROUP BY ALL
        UNION ALL
        SELECT session_id, 'entries_' || referrer_class AS metric,
               {key_sql(news_groups)} AS key, {MINUTE_SQL} AS minute
        FROM events
        WHERE site_id = $site AND ts >= $lo AND ts < $hi
          AND type = 'pageview' AND referrer_class IN ({entry_sql})
        GROUP BY ALL
        """,
        params,
    )
    counts = _arrow(
        store,
        f"""
        WITH e AS (
            SELECT {MINUTE_SQL} AS minute, type, search_results,
                   coalesce(nullif(form, ''), service_id, 'none') AS form_key
            FROM events
            WHERE site_id = $site AND ts >= $lo AND ts < $hi
              AND type IN ('pageview', 'search', 'form_start', 'form_submit', 'not_found')
        )
        SELECT minute,
               CASE type
                   WHEN 'pageview' THEN 'pageviews'
                   WHEN 'search' THEN 'searches'
                   WHEN 'form_start' THEN 'form_starts'
                   WHEN 'form_submit' THEN 'form_submits'
                   ELSE 'not_found'
               END AS metric,
               CASE WHEN type IN ('pageview', 'search', 'not_found') THEN '*'
                    ELSE form_key END AS key,
               count(*) AS n
        FROM e GROUP BY ALL
        UNION ALL
        SELECT minute, 'zero_results', '*', count(*) FROM e
        WHERE type = 'search' AND search_results = 0 GROUP BY ALL
        """,
        params,
    )
    req = request_columns(store)
    if req is not None:
        ts_col, cat_col, has_site = req
        where_site = "site_id = $site AND " if has_site else ""
        requests = _arrow(
            store,
            f"""
            SELECT CAST(epoch_ms(CAST({ts_col} AS TIMESTAMP)) // 60000 AS BIGINT) AS minute,
                   'requests' AS metric, coalesce(CAST({cat_col} AS VARCHAR), 'none') AS key,
                   count(*) AS n
            FROM service_requests
            WHERE {where_site} CAST({ts_col} AS TIMESTAMP) >= $lo
              AND CAST({ts_col} AS TIMESTAMP) < $hi
            GROUP BY ALL
            """,
            params if has_site else {"lo": lo, "hi": hi},
        )
        counts = pa.concat_tables([counts, requests.cast(counts.schema)])
    return pages, counts


def top_paths(store: DuckDBStore, site_id: int, key: str, lo: datetime, hi: datetime,
              limit: int = 3, news_groups: tuple[str, ...] = NEWS_GROUPS
              ) -> list[dict[str, Any]]:
    """The most viewed paths of one signal key in a window (evidence for an alert)."""
    rows = _rows(
        store,
        f"""
        SELECT path, count(*) AS n FROM events
        WHERE site_id = $site AND ts >= $lo AND ts < $hi AND type = 'pageview'
          AND {key_sql(news_groups)} = $key
        GROUP BY path ORDER BY n DESC, path LIMIT {int(limit)}
        """,
        {"site": site_id, "lo": lo, "hi": hi, "key": key},
    )
    return [{"path": r[0], "pageviews": int(r[1])} for r in rows]


# -- detector state --------------------------------------------------------------------

def load_state(store: DuckDBStore, site_id: int) -> tuple[int, bytes] | None:
    rows = _rows(store, "SELECT last_minute, state FROM warning_state WHERE site_id = ?",
                 [site_id])
    return (int(rows[0][0]), bytes(rows[0][1])) if rows else None


def save_state(store: DuckDBStore, site_id: int, last_minute: int, blob: bytes,
               version: int) -> None:
    with store._lock:
        cur = store.cursor()
        try:
            cur.execute(
                """
                INSERT INTO warning_state (site_id, last_minute, version, state, updated)
                VALUES (?, ?, ?, ?, now())
                ON CONFLICT (site_id) DO UPDATE SET last_minute = excluded.last_minute,
                    version = excluded.version, state = excluded.state, updated = now()
                """,
                [site_id, last_minute, version, blob],
            )
        finally:
            cur.close()


def delete_state(store: DuckDBStore, site_id: int) -> None:
    with store._lock:
        cur = store.cursor()
        try:
            cur.execute("DELETE FROM warning_state WHERE site_id = ?", [site_id])
        finally:
            cur.close()


# -- alerts ----------------------------------------------------------------------------

ALERT_COLUMNS = ("id", "site_id", "uid", "signal", "service_id", "key", "direction",
                 "start_ts", "end_ts", "detected_ts", "observed", "expected", "score",
                 "severity", "status", "evidence", "updated")


def upsert_alert(store: DuckDBStore, site_id: int, alert: dict[str, Any]) -> tuple[int, bool]:
    """Insert an alert or update the one with the same uid; returns (id, created).

    An alert a person acknowledged (`store.alert_status`) stays acknowledged while the
    detector still reports it open; its end (`closed`) is taken over."""
    ev = json.dumps(alert.get("evidence") or {}, ensure_ascii=False, default=str)
    with store._lock:
        cur = store.cursor()
        try:
            found = cur.execute(
                "SELECT id FROM alerts WHERE site_id = ? AND uid = ?", [site_id, alert["uid"]]
            ).fetchall()
            values = [alert["signal"], alert["service_id"], alert["key"], alert["direction"],
                      alert["start_ts"], alert["end_ts"], alert["detected_ts"],
                      float(alert["observed"]), float(alert["expected"]),
                      float(alert["score"]), alert["severity"], alert["status"], ev]
            if found:
                alert_id = int(found[0][0])
                cur.execute(
                    """
                    UPDATE alerts SET signal = ?, service_id = ?, key = ?, direction = ?,
                        start_ts = ?, end_ts = ?, detected_ts = ?, observed = ?,
                        expected = ?, score = ?, severity = ?,
                        status = CASE WHEN status = 'acknowledged' AND ? = 'open'
                                      THEN status ELSE ? END,
                        evidence = ?, updated = now()
                    WHERE id = ?
                    """,
                    [*values[:11], alert["status"], *values[11:], alert_id],
                )
                return alert_id, False
            alert_id = int(cur.execute("SELECT nextval('alert_ids')").fetchall()[0][0])
            cur.execute(
                """
                INSERT INTO alerts (id, site_id, uid, signal, service_id, key, direction,
                    start_ts, end_ts, detected_ts, observed, expected, score, severity,
                    status, evidence, updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())
                """,
                [alert_id, site_id, alert["uid"], *values],
            )
            return alert_id, True
        finally:
            cur.close()


def list_alerts(store: DuckDBStore, site_id: int | None = None, status: str | None = None,
                since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
    where, params = ["TRUE"], []
    if site_id is not None:
        where.append("site_id = ?")
        params.append(site_id)
    if status:
        where.append("status = ?")
        params.append(status)
    if since is not None:
        where.append("end_ts >= ?")
        params.append(since)
    rows = _rows(
        store,
        f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts WHERE {' AND '.join(where)} "
        f"ORDER BY detected_ts DESC, id DESC LIMIT {int(limit)}",
        params,
    )
    out = []
    for r in rows:
        d = dict(zip(ALERT_COLUMNS, r, strict=True))
        d["evidence"] = json.loads(d["evidence"]) if d["evidence"] else {}
        out.append(d)
    return out


def get_alert(store: DuckDBStore, alert_id: int) -> dict[str, Any] | None:
    rows = _rows(store, f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts WHERE id = ?",
                 [alert_id])
    if not rows:
        return None
    d = dict(zip(ALERT_COLUMNS, rows[0], strict=True))
    d["evidence"] = json.loads(d["evidence"]) if d["evidence"] else {}
    return d


# -- deliveries ------------------------------------------------------------------------

DELIVERY_COLUMNS = ("alert_id", "channel", "target", "state", "attempts", "next_attempt",
                    "last_error", "delivered_ts", "created")


def add_delivery(store: DuckDBStore, alert_id: int, channel: str, target: str, state: str,
                 next_attempt: datetime | None, note: str | None = None) -> None:
    with store._lock:
        cur = store.cursor()
        try:
            cur.execute(
                """
                INSERT INTO alert_deliveries (alert_id, channel, target, state, attempts,
                    next_attempt, last_error, created)
                VALUES (?, ?, ?, ?, 0, ?, ?, now())
                ON CONFLICT (alert_id, channel, target) DO NOTHING
                """,
                [alert_id, channel, target, state, next_attempt, note],
            )
        finally:
            cur.close()


def due_deliveries(store: DuckDBStore, now: datetime, limit: int = 50) -> list[dict[str, Any]]:
    rows = _rows(
        store,
        f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM alert_deliveries "
        "WHERE state IN ('pending', 'retrying') AND next_attempt <= ? "
        f"ORDER BY next_attempt, alert_id LIMIT {int(limit)}",
        [now],
    )
    return [dict(zip(DELIVERY_COLUMNS, r, strict=True)) for r in rows]


def update_delivery(store: DuckDBStore, alert_id: int, channel: str, target: str, state: str,
                    attempts: int, next_attempt: datetime | None, error: str | None,
                    delivered: datetime | None) -> None:
    with store._lock:
        cur = store.cursor()
        try:
            cur.execute(
                """
                UPDATE alert_deliveries SET state = ?, attempts = ?, next_attempt = ?,
                    last_error = ?, delivered_ts = ?
                WHERE alert_id = ? AND channel = ? AND target = ?
                """,
                [state, attempts, next_attempt, error, delivered, alert_id, channel, target],
            )
        finally:
            cur.close()


def deliveries_for(store: DuckDBStore, alert_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    if not alert_ids:
        return {}
    marks = ", ".join("?" for _ in alert_ids)
    rows = _rows(
        store,
        f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM alert_deliveries "
        f"WHERE alert_id IN ({marks}) ORDER BY alert_id, channel, target",
        list(alert_ids),
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        d = dict(zip(DELIVERY_COLUMNS, r, strict=True))
        out.setdefault(int(d["alert_id"]), []).append(d)
    return out


# -- demand for forecasting ------------------------------------------------------------

def daily_service_demand(store: DuckDBStore, site_id: int, timezone: str = "Europe/Berlin",
                         news_groups: tuple[str, ...] = NEWS_GROUPS
                         ) -> list[tuple[date, str, int, int]]:
    """(local day, service_id, visits, form_submits) per day and service. Days with raw
    events count them keyed as the detector does (news articles stay in their group);
    older days come from the daily aggregates (kept after raw events expire)."""
    tz = timezone.replace("'", "")
    local = f"CAST(timezone('{tz}', ts AT TIME ZONE 'UTC') AS DATE)"
    raw = _rows(
        store,
        f"""
        WITH e AS (
            SELECT {local} AS day, session_id, type,
                   CASE WHEN type = 'pageview' THEN {key_sql(news_groups)}
                        ELSE coalesce(nullif(form, ''), service_id, 'none') END AS key
            FROM events
            WHERE site_id = ? AND type IN ('pageview', 'form_submit')
        )
        SELECT day, key, count(DISTINCT session_id) FILTER (WHERE type = 'pageview'),
               count(*) FILTER (WHERE type = 'form_submit')
        FROM e WHERE key NOT LIKE '/%' GROUP BY ALL ORDER BY 1, 2
        """,
        [site_id],
    )
    first = min((r[0] for r in raw), default=None)
    older = _rows(
        store,
        "SELECT day, service_id, visits, form_submits FROM daily_services "
        "WHERE site_id = ? AND (? IS NULL OR day < ?) ORDER BY day, service_id",
        [site_id, first, first],
    )
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in older + raw]


def daily_site_visits(store: DuckDBStore, site_id: int) -> list[tuple[date, int]]:
    return [
        (r[0], int(r[1]))
        for r in _rows(store, "SELECT day, visits FROM daily_site WHERE site_id = ? ORDER BY day",
                       [site_id])
    ]


def daily_requests(store: DuckDBStore, site_id: int, timezone: str
                   ) -> list[tuple[date, str, int]]:
    """(local day, category, requests) where a `service_requests` table exists."""
    req = request_columns(store)
    if req is None:
        return []
    ts_col, cat_col, has_site = req
    tz = timezone.replace("'", "")
    where = "WHERE site_id = ?" if has_site else ""
    rows = _rows(
        store,
        f"""
        SELECT CAST(timezone('{tz}', CAST({ts_col} AS TIMESTAMP) AT TIME ZONE 'UTC') AS DATE),
               coalesce(CAST({cat_col} AS VARCHAR), 'none'), count(*)
        FROM service_requests {where} GROUP BY ALL ORDER BY 1, 2
        """,
        [site_id] if has_site else [],
    )
    return [(r[0], r[1], int(r[2])) for r in rows]
