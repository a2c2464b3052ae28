"""Queries of the realtime view: the last minutes of one site's events."""

from __future__ import annotations

from datetime import datetime, timedelta

from amtspuls.store.duckdb_store import DuckDBStore

MAX_GROUPS = 1000


def recent_activity(store: DuckDBStore, site_id: int, now: datetime) -> dict:
    """Visitors in the last 5 and 30 minutes, and pages and searches of the last 30
    minutes with their distinct visitors (`now`: naive UTC). k-anonymity is the caller's."""
    params = {"site": site_id, "t5": now - timedelta(minutes=5),
              "t30": now - timedelta(minutes=30), "hi": now + timedelta(minutes=1)}
    window = "site_id = $site AND ts >= $t30 AND ts <= $hi"

    def q(sql: str) -> list[dict]:
        return store.query(sql, {k: v for k, v in params.items() if f"${k}" in sql})

    counts = q(
        f"""
        SELECT count(DISTINCT visitor_id) FILTER (WHERE ts >= $t5) AS visitors_5min,
               count(DISTINCT visitor_id) AS visitors_30min
        FROM events WHERE {window}
        """
    )[0]
    pages = q(
        f"""
        SELECT path, count(*) AS pageviews, count(DISTINCT visitor_id) AS visitors
        FROM events WHERE {window} AND type = 'pageview'
        GROUP BY path ORDER BY visitors DESC, pageviews DESC, path LIMIT {MAX_GROUPS}
        """
    )
    searches = q(
        f"""
        SELECT search_query AS query, count(*) AS searches,
               count(DISTINCT visitor_id) AS visitors
        FROM events WHERE {window} AND type = 'search' AND search_query IS NOT NULL
        GROUP BY search_query ORDER BY visitors DESC, searches DESC, query LIMIT {MAX_GROUPS}
        """
    )
    return {
        "visitors_5min": int(counts["visitors_5min"] or 0),
        "visitors_30min": int(counts["visitors_30min"] or 0),
        "pages": pages,
        "searches": searches,
    }
