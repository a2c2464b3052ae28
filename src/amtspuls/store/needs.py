"""Queries over stored events for citizen needs: site search, services, journeys, forms
and frustration signals (the SQL half of `analyze.search`, `analyze.journeys`,
`analyze.topics`).

Every method takes the site and a UTC window [lo, hi) and returns rows as dicts with a
`visitors` column (distinct visitors) so that callers can apply k-anonymity.

"Next page" is the next page event (pageview, search, not_found) of the same session.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from amtspuls.model import PAGE_TYPES
from amtspuls.store.duckdb_store import DuckDBStore

_PAGE_TYPES_SQL = "(" + ", ".join(f"'{t}'" for t in PAGE_TYPES) + ")"
_WINDOW = "site_id = $site AND ts >= $lo AND ts < $hi"

# Page events with what came next in the session.
_PAGES = f"""
    p AS (
        SELECT session_id, visitor_id, ts, type, path, service_id, search_query,
               search_results, referrer_path,
               lead(type) OVER w AS next_type, lead(path) OVER w AS next_path,
               lead(service_id) OVER w AS next_service,
               lead(search_query) OVER w AS next_query, lead(ts) OVER w AS next_ts,
               lag(path) OVER w AS prev_path, lag(type) OVER w AS prev_type
        FROM events
        WHERE {_WINDOW} AND type IN {_PAGE_TYPES_SQL}
        WINDOW w AS (PARTITION BY session_id ORDER BY ts, type, path)
    )
"""
_SEARCHES = _PAGES + """,
    s AS (
        SELECT *, next_type = 'pageview' AND coalesce(next_service, 'none') <> 'none'
                  AS to_service
        FROM p WHERE type = 'search' AND search_query IS NOT NULL AND search_query <> ''
    )
"""


class NeedsQueries:
    def __init__(self, store: DuckDBStore, site_id: int, lo: datetime, hi: datetime) -> None:
        self.store = store
        self.p: dict[str, Any] = {"site": site_id, "lo": lo, "hi": hi}

    def _q(self, sql: str, **extra: Any) -> list[dict]:
        params = {k: v for k, v in {**self.p, **extra}.items() if f"${k}" in sql}
        return self.store.query(sql, params)

    # -- site search ---------------------------------------------------------------------
    def search_summary(self) -> dict:
        row = self._q(
            "WITH " + _SEARCHES + """
            SELECT count(*) AS searches,
                   count(DISTINCT session_id) AS sessions,
                   count(DISTINCT visitor_id) AS visitors,
                   count(DISTINCT search_query) AS distinct_queries,
                   count(*) FILTER (WHERE search_results = 0) AS no_results,
                   count(*) FILTER (WHERE next_type IS NULL) AS exits,
                   count(*) FILTER (WHERE next_type = 'search') AS refinements,
                   count(*) FILTER (WHERE next_type = 'pageview') AS to_page,
                   count(*) FILTER (WHERE to_service) AS to_service
            FROM s
            """
        )[0]
        return {k: int(v or 0) for k, v in row.items()}

    def queries(self) -> list[dict]:
        """Per distinct query: searches, visitors, searches without results, exits,
        refinements and searches followed by a service page."""
        return self._q(
            "WITH " + _SEARCHES + """
            SELECT search_query AS query, count(*) AS searches,
                   count(DISTINCT visitor_id) AS visitors,
                   count(*) FILTER (WHERE search_results = 0) AS no_results,
                   count(*) FILTER (WHERE next_type IS NULL) AS exits,
                   count(*) FILTER (WHERE next_type = 'search') AS refinements,
                   count(*) FILTER (WHERE to_service) AS to_service
            FROM s GROUP BY search_query ORDER BY searches DESC, query
            """
        )

    def query_counts(self) -> list[dict]:
        """Per distinct query: searches, visitors, searches without results (no sessions)."""
        return self._q(
            f"""
            SELECT search_query AS query, count(*) AS searches,
                   count(DISTINCT visitor_id) AS visitors,
                   count(*) FILTER (WHERE search_results = 0) AS no_results
            FROM events
            WHERE {_WINDOW} AND type = 'search' AND search_query IS NOT NULL
              AND search_query <> ''
            GROUP BY search_query ORDER BY searches DESC, query
            """
        )

    def refinements(self) -> list[dict]:
        return self._q(
            "WITH " + _SEARCHES + """
            SELECT search_query AS query, next_query, count(*) AS n,
                   count(DISTINCT visitor_id) AS visitors
            FROM s WHERE next_type = 'search' AND next_query IS NOT NULL
              AND next_query <> search_query
            GROUP BY 1, 2 ORDER BY n DESC, 1, 2
            """
        )

    def pages_after_search(self) -> list[dict]:
        return self._q(
            "WITH " + _SEARCHES + """
            SELECT next_path AS path, any_value(next_service) AS service_id, count(*) AS n,
                   count(DISTINCT visitor_id) AS visitors
            FROM s WHERE next_type IN ('pageview', 'not_found')
            GROUP BY 1 ORDER BY n DESC, 1
            """
        )

    def query_next_service(self) -> list[dict]:
        """(query, service of the page opened right after it): the behaviour labels, with
        how often the visitor then acted on that service (form, download) and how often
        they searched again afterwards (the page did not help)."""
        return self._q(
            "WITH " + _SEARCHES + """,
            c AS (SELECT * FROM s WHERE to_service),
            later AS (
                SELECT c.session_id, c.ts, any_value(c.search_query) AS query,
                       any_value(c.next_service) AS service_id,
                       any_value(c.visitor_id) AS visitor_id,
                       bool_or(e.type = 'search' AND e.ts > c.next_ts) AS searched_after,
                       bool_or(e.type IN ('form_start', 'form_submit', 'download')
                               AND e.service_id = c.next_service) AS acted
                FROM c JOIN events e
                  ON e.session_id = c.session_id AND e.site_id = $site
                 AND e.ts >= c.next_ts AND e.ts < $hi
                GROUP BY c.session_id, c.ts
            )
            SELECT query, service_id, count(*) AS n,
                   count(DISTINCT session_id) AS sessions,
                   count(DISTINCT visitor_id) AS visitors,
                   count(*) FILTER (WHERE acted) AS acted,
                   count(*) FILTER (WHERE searched_after AND NOT acted) AS searched_after
            FROM later GROUP BY 1, 2 ORDER BY 1, n DESC, 2
            """
        )

    def searches_per_completed_form(self) -> list[dict]:
        """Per service: form submits, and searches in the sessions that submitted it."""
        return self._q(
            f"""
            WITH sub AS (
                SELECT service_id, session_id, any_value(visitor_id) AS visitor_id,
                       count(*) AS submits
                FROM events
                WHERE {_WINDOW} AND type = 'form_submit'
                  AND coalesce(service_id, 'none') <> 'none'
                GROUP BY 1, 2
            ), se AS (
                SELECT session_id, count(*) AS searches FROM events
                WHERE {_WINDOW} AND type = 'search' GROUP BY 1
            )
            SELECT service_id, sum(submits) AS form_submits,
                   sum(coalesce(se.searches, 0)) AS searches,
                   count(*) AS sessions, count(DISTINCT visitor_id) AS visitors
            FROM sub LEFT JOIN se USING (session_id)
            GROUP BY 1 ORDER BY form_submits DESC, 1
            """
        )

    # -- services, forms -----------------------------------------------------------------
    def services(self) -> list[dict]:
        return self._q(
            f"""
            WITH e AS (
                SELECT * FROM events
                WHERE {_WINDOW} AND coalesce(service_id, 'none') <> 'none'
            ), per_session AS (
                SELECT service_id, session_id, any_value(visitor_id) AS visitor_id,
                       bool_or(type = 'form_start') AS started,
                       bool_or(type = 'form_submit') AS submitted,
                       bool_or(type = 'form_error') AS failed
                FROM e GROUP BY 1, 2
            ), counts AS (
                SELECT service_id,
                       count(*) FILTER (WHERE type = 'pageview') AS pageviews,
                       count(*) FILTER (WHERE type = 'download') AS downloads,
                       count(*) FILTER (WHERE type = 'form_start') AS form_starts,
                       count(*) FILTER (WHERE type = 'form_submit') AS form_submits,
                       count(*) FILTER (WHERE type = 'form_error') AS form_errors
                FROM e GROUP BY 1
            )
            SELECT ps.service_id, count(*) AS visits, count(DISTINCT visitor_id) AS visitors,
                   count(*) FILTER (WHERE started) AS sessions_started,
                   count(*) FILTER (WHERE submitted) AS sessions_submitted,
                   count(*) FILTER (WHERE started AND NOT submitted) AS sessions_abandoned,
                   count(*) FILTER (WHERE failed) AS sessions_with_error,
                   any_value(c.pageviews) AS pageviews, any_value(c.downloads) AS downloads,
                   any_value(c.form_starts) AS form_starts,
                   any_value(c.form_submits) AS form_submits,
                   any_value(c.form_errors) AS form_errors
            FROM per_session ps JOIN counts c USING (service_id)
            GROUP BY 1 ORDER BY visits DESC, 1
            """
        )

    def forms(self) -> list[dict]:
        return self._q(
            f"""
            WITH e AS (
                SELECT * FROM events
                WHERE {_WINDOW} AND type IN ('form_start', 'form_submit', 'form_error')
                  AND form IS NOT NULL
            ), ps AS (
                SELECT form, session_id, any_value(visitor_id) AS visitor_id,
                       bool_or(type = 'form_start') AS started,
                       bool_or(type = 'form_submit') AS submitted,
                       bool_or(type = 'form_error') AS failed
                FROM e GROUP BY 1, 2
            )
            SELECT ps.form, any_value(c.service_id) AS service_id,
                   count(*) AS sessions, count(DISTINCT visitor_id) AS visitors,
                   count(*) FILTER (WHERE started) AS sessions_started,
                   count(*) FILTER (WHERE submitted) AS sessions_submitted,
                   count(*) FILTER (WHERE failed) AS sessions_with_error,
                   count(*) FILTER (WHERE started AND NOT submitted) AS sessions_abandoned,
                   count(*) FILTER (WHERE failed AND NOT submitted) AS abandoned_after_error,
                   any_value(c.starts) AS starts, any_value(c.submits) AS submits,
                   any_value(c.errors) AS errors
            FROM ps JOIN (
                SELECT form, any_value(service_id) AS service_id,
                       count(*) FILTER (WHERE type = 'form_start') AS starts,
                       count(*) FILTER (WHERE type = 'form_submit') AS submits,
                       count(*) FILTER (WHERE type = 'form_error') AS errors
                FROM e GROUP BY 1
            ) c USING (form)
            GROUP BY 1 ORDER BY sessions DESC, 1
            """
        )

    def form_fields(self) -> list[dict]:
        return self._q(
            f"""
            SELECT form, coalesce(field, '(unbekannt)') AS field, count(*) AS errors,
                   count(DISTINCT session_id) AS sessions,
                   count(DISTINCT visitor_id) AS visitors
            FROM events
            WHERE {_WINDOW} AND type = 'form_error' AND form IS NOT NULL
            GROUP BY 1, 2 ORDER BY errors DESC, 1, 2
            """
        )

    # -- journeys ------------------------------------------------------------------------
    def service_sessions(self, service_id: str, max_sessions: int = 200_000) -> list[dict]:
        """Every session that touched the service: its steps in order (page events and
        form events), for journey analysis."""
        return self._q(
            f"""
            WITH touched AS (
                SELECT DISTINCT session_id FROM events
                WHERE {_WINDOW} AND service_id = $service
                  AND type IN ('pageview', 'form_start', 'form_submit', 'download')
                LIMIT $max
            )
            SELECT session_id, any_value(visitor_id) AS visitor_id,
                   list(type ORDER BY ts, type) AS types,
                   list(coalesce(path, '') ORDER BY ts, type) AS paths,
                   list(coalesce(service_id, 'none') ORDER BY ts, type) AS services,
                   list(coalesce(field, '') ORDER BY ts, type) AS fields
            FROM events
            WHERE {_WINDOW} AND session_id IN (SELECT session_id FROM touched)
              AND type IN ('pageview', 'search', 'not_found', 'form_start', 'form_submit',
                           'form_error', 'download')
            GROUP BY session_id
            ORDER BY session_id
            """,
            service=service_id, max=max_sessions,
        )

    # -- frustration ---------------------------------------------------------------------
    def rage_clicks(self) -> list[dict]:
        return self._q(
            f"""
            SELECT path, any_value(service_id) AS service_id, count(*) AS rage_clicks,
                   count(DISTINCT session_id) AS sessions,
                   count(DISTINCT visitor_id) AS visitors
            FROM events WHERE {_WINDOW} AND type = 'rage_click'
            GROUP BY 1 ORDER BY rage_clicks DESC, 1
            """
        )

    def quick_backs(self, seconds: float) -> list[dict]:
        """A → B → A within `seconds` on B: B disappointed (per page B)."""
        return self._q(
            "WITH " + _PAGES + """,
            b AS (
                SELECT * FROM p
                WHERE type = 'pageview' AND prev_path IS NOT NULL AND next_path = prev_path
                  AND next_type = 'pageview' AND prev_type = 'pageview'
                  AND next_path <> path
                  AND date_diff('millisecond', ts, next_ts) < $ms
            )
            SELECT path, any_value(service_id) AS service_id, count(*) AS quick_backs,
                   count(DISTINCT visitor_id) AS visitors
            FROM b GROUP BY 1 ORDER BY quick_backs DESC, 1
            """,
            ms=int(seconds * 1000),
        )

    def pageviews_by_path(self) -> dict[str, int]:
        rows = self._q(
            f"""
            SELECT path, count(*) AS n FROM events
            WHERE {_WINDOW} AND type = 'pageview' GROUP BY 1
            """
        )
        return {r["path"]: int(r["n"]) for r in rows}

    def search_sessions(self) -> list[dict]:
        """Per session with searches: the number of searches, whether a service page was
        reached after the first search, and the first query."""
        return self._q(
            f"""
            WITH e AS (
                SELECT session_id, visitor_id, ts, type, service_id, search_query
                FROM events WHERE {_WINDOW} AND type IN ('pageview', 'search')
            ), first_search AS (
                SELECT session_id, min(ts) AS t0, arg_min(search_query, ts) AS first_query,
                       count(*) AS searches, count(DISTINCT search_query) AS distinct_queries
                FROM e WHERE type = 'search' GROUP BY 1
            )
            SELECT f.session_id, any_value(e.visitor_id) AS visitor_id,
                   any_value(f.first_query) AS first_query, any_value(f.searches) AS searches,
                   any_value(f.distinct_queries) AS distinct_queries,
                   bool_or(e.type = 'pageview' AND e.ts > f.t0
                           AND coalesce(e.service_id, 'none') <> 'none') AS found_service
            FROM first_search f JOIN e USING (session_id)
            GROUP BY f.session_id
            """
        )

    def not_found(self) -> list[dict]:
        return self._q(
            f"""
            SELECT path, count(*) AS hits, count(DISTINCT visitor_id) AS visitors,
                   count(*) FILTER (WHERE referrer_class = 'internal') AS internal_hits
            FROM events WHERE {_WINDOW} AND type = 'not_found'
            GROUP BY 1 ORDER BY hits DESC, 1
            """
        )

    def not_found_referrers(self) -> list[dict]:
        return self._q(
            f"""
            SELECT path, referrer_path, count(*) AS hits, count(DISTINCT visitor_id) AS visitors
            FROM events
            WHERE {_WINDOW} AND type = 'not_found' AND referrer_path IS NOT NULL
            GROUP BY 1, 2 ORDER BY hits DESC, 1, 2
            """
        )

    # -- topics --------------------------------------------------------------------------
    def request_texts(self) -> dict[str, int]:
        """Scrubbed descriptions of service requests in the window (text -> count)."""
        try:
            rows = self._q(
                """
                SELECT description AS text, count(*) AS n FROM service_requests
                WHERE site_id = $site AND requested_datetime >= $lo
                  AND requested_datetime < $hi
                  AND description IS NOT NULL AND trim(description) <> ''
                GROUP BY 1
                """
            )
        except duckdb.CatalogException:  # a store without the requests table
            return {}
        return {r["text"]: int(r["n"]) for r in rows}

    def visitors_by_group(self, groups: dict[str, int]) -> dict[int, int]:
        """Distinct visitors per group of queries ({query: group})."""
        table = pa.table({"query": list(groups), "grp": list(groups.values())})
        cur = self.store.cursor()
        try:
            cur.register("query_groups", table)
            rows = cur.execute(
                """
                SELECT g.grp, count(DISTINCT e.visitor_id) AS visitors
                FROM events e JOIN query_groups g ON e.search_query = g.query
                WHERE e.site_id = $site AND e.ts >= $lo AND e.ts < $hi AND e.type = 'search'
                GROUP BY 1
                """,
                dict(self.p),
            ).fetchall()
        finally:
            cur.close()
        return {int(g): int(v) for g, v in rows}

    # -- bookkeeping ---------------------------------------------------------------------
    def fingerprint(self) -> tuple:
        """Changes whenever the site's stored events change (to cache derived models)."""
        row = self._q(
            "SELECT count(*) AS n, max(ts) AS last FROM events WHERE site_id = $site"
        )[0]
        return (int(row["n"]), str(row["last"]))
