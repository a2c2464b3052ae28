"""Report queries over the store (the SQL half of `analyze.reports`).

Every query takes the site, a UTC time window [lo, hi) and the site's time zone, and
returns rows as dicts. k-anonymity is applied by the caller on the `visitors` column."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from amtspuls.model import PAGE_TYPES
from amtspuls.store.duckdb_store import DuckDBStore

PAGE_TYPES_SQL = "(" + ", ".join(f"'{t}'" for t in PAGE_TYPES) + ")"
INTERVALS = {"hour": "hour", "day": "day", "week": "week"}


class ReportQueries:
    def __init__(self, store: DuckDBStore, site_id: int, tz: str, lo: datetime, hi: datetime,
                 limit: int = 100) -> None:
        self.store = store
        self.p: dict[str, Any] = {"site": site_id, "lo": lo, "hi": hi, "tz": tz, "limit": limit}

    def _q(self, sql: str, **extra: Any) -> list[dict]:
        params = {k: v for k, v in {**self.p, **extra}.items() if f"${k}" in sql}
        return self.store.query(sql, params)

    def overview(self) -> dict:
        ev = self._q(
            """
            SELECT count(DISTINCT visitor_id) AS visitors,
                   count(*) FILTER (WHERE type = 'pageview') AS pageviews,
                   count(*) FILTER (WHERE type = 'search') AS searches,
                   count(*) FILTER (WHERE type = 'download') AS downloads,
                   count(*) FILTER (WHERE type = 'not_found') AS not_found
            FROM events WHERE site_id = $site AND ts >= $lo AND ts < $hi
            """
        )[0]
        se = self._q(
            """
            SELECT count(*) AS visits,
                   count(*) FILTER (WHERE is_bounce) AS bounces,
                   coalesce(avg(duration_s), 0) AS avg_visit_seconds,
                   coalesce(avg(page_actions), 0) AS actions_per_visit
            FROM sessions WHERE site_id = $site AND start_ts >= $lo AND start_ts < $hi
            """
        )[0]
        visits = int(se["visits"])
        return {
            "visitors": int(ev["visitors"]),
            "visits": visits,
            "pageviews": int(ev["pageviews"]),
            "searches": int(ev["searches"]),
            "downloads": int(ev["downloads"]),
            "not_found": int(ev["not_found"]),
            "bounce_rate": round(se["bounces"] / visits, 4) if visits else 0.0,
            "avg_visit_seconds": round(float(se["avg_visit_seconds"]), 1),
            "actions_per_visit": round(float(se["actions_per_visit"]), 2),
        }

    def pages(self) -> list[dict]:
        return self._q(
            """
            SELECT path, count(*) AS pageviews, count(DISTINCT visitor_id) AS visitors,
                   any_value(service_id) AS service_id
            FROM events
            WHERE site_id = $site AND ts >= $lo AND ts < $hi AND type = 'pageview'
            GROUP BY path ORDER BY pageviews DESC, path LIMIT $limit
            """
        )

    def entry_pages(self) -> list[dict]:
        return self._q(
            """
            SELECT entry_path AS path, count(*) AS entries,
                   count(DISTINCT visitor_id) AS visitors,
                   round(avg(CASE WHEN is_bounce THEN 1 ELSE 0 END), 4) AS bounce_rate
            FROM sessions
            WHERE site_id = $site AND start_ts >= $lo AND start_ts < $hi AND entry_path IS NOT NULL
            GROUP BY entry_path ORDER BY entries DESC, path LIMIT $limit
            """
        )

    def exit_pages(self) -> list[dict]:
        return self._q(
            """
            WITH x AS (
                SELECT exit_path AS path, count(*) AS exits, count(DISTINCT visitor_id) AS visitors
                FROM sessions
                WHERE site_id = $site AND start_ts >= $lo AND start_ts < $hi
                  AND exit_path IS NOT NULL
                GROUP BY exit_path
            ), v AS (
                SELECT path, count(*) AS pageviews FROM events
                WHERE site_id = $site AND ts >= $lo AND ts < $hi
                  AND type IN """ + PAGE_TYPES_SQL + """
                GROUP BY path
            )
            SELECT x.path, x.exits, x.visitors,
                   round(x.exits / greatest(coalesce(v.pageviews, 0), x.exits), 4) AS exit_rate
            FROM x LEFT JOIN v USING (path)
            ORDER BY x.exits DESC, x.path LIMIT $limit
            """
        )

    def referrers(self) -> list[dict]:
        return self._q(
            """
            SELECT coalesce(referrer_class, 'direct') AS referrer_class,
                   coalesce(CASE WHEN referrer_class = 'campaign' THEN campaign
                                 ELSE referrer_host END, '') AS source,
                   count(*) AS visits, count(DISTINCT visitor_id) AS visitors,
                   round(avg(CASE WHEN is_bounce THEN 1 ELSE 0 END), 4) AS bounce_rate
            FROM sessions
            WHERE site_id = $site AND start_ts >= $lo AND start_ts < $hi
              AND coalesce(referrer_class, 'direct') <> 'internal'
            GROUP BY 1, 2 ORDER BY visits DESC, 1, 2 LIMIT $limit
            """
        )

    def devices(self) -> dict[str, list[dict]]:
        out = {}
        for key, col in (("devices", "device"), ("browsers", "browser"), ("os", "os")):
            out[key] = self._q(
                f"""
                SELECT coalesce({col}, 'other') AS name, count(*) AS visits,
                       count(DISTINCT visitor_id) AS visitors
                FROM sessions
                WHERE site_id = $site AND start_ts >= $lo AND start_ts < $hi
                GROUP BY 1 ORDER BY visits DESC, 1 LIMIT $limit
                """
            )
        return out

    def not_found(self) -> list[dict]:
        rows = self._q(
            """
            SELECT path, count(*) AS hits, count(DISTINCT visitor_id) AS visitors,
                   count(*) FILTER (WHERE referrer_class = 'internal') AS internal_hits
            FROM events
            WHERE site_id = $site AND ts >= $lo AND ts < $hi AND type = 'not_found'
            GROUP BY path ORDER BY hits DESC, path LIMIT $limit
            """
        )
        refs = self._q(
            """
            SELECT path, referrer_path, count(*) AS hits
            FROM events
            WHERE site_id = $site AND ts >= $lo AND ts < $hi AND type = 'not_found'
              AND referrer_class = 'internal' AND referrer_path IS NOT NULL
            GROUP BY path, referrer_path ORDER BY hits DESC, referrer_path
            """
        )
        by_path: dict[str, list[dict]] = {}
        for r in refs:
            by_path.setdefault(r["path"], []).append(
                {"referrer_path": r["referrer_path"], "hits": r["hits"]}
            )
        for row in rows:
            row["referrers"] = by_path.get(row["path"], [])[:20]
        return rows

    def downloads(self) -> list[dict]:
        return self._q(
            """
            SELECT coalesce(target, path) AS target, count(*) AS downloads,
                   count(DISTINCT visitor_id) AS visitors, any_value(service_id) AS service_id
            FROM events
            WHERE site_id = $site AND ts >= $lo AND ts < $hi AND type = 'download'
            GROUP BY 1 ORDER BY downloads DESC, 1 LIMIT $limit
            """
        )

    def timeseries(self, interval: str) -> list[dict]:
        unit = INTERVALS[interval]
        local = "timezone($tz, ts AT TIME ZONE 'UTC')"
        local_start = "timezone($tz, start_ts AT TIME ZONE 'UTC')"
        return self._q(
            f"""
            WITH e AS (
                SELECT date_trunc('{unit}', {local}) AS bucket,
                       count(DISTINCT visitor_id) AS visitors,
                       count(*) FILTER (WHERE type = 'pageview') AS pageviews,
                       count(*) FILTER (WHERE type = 'search') AS searches
                FROM events WHERE site_id = $site AND ts >= $lo AND ts < $hi
                GROUP BY 1
            ), s AS (
                SELECT date_trunc('{unit}', {local_start}) AS bucket, count(*) AS visits
                FROM sessions WHERE site_id = $site AND start_ts >= $lo AND start_ts < $hi
                GROUP BY 1
            )
            SELECT strftime(coalesce(e.bucket, s.bucket), '%Y-%m-%dT%H:%M:%S') AS period,
                   coalesce(e.visitors, 0) AS visitors, coalesce(s.visits, 0) AS visits,
                   coalesce(e.pageviews, 0) AS pageviews, coalesce(e.searches, 0) AS searches
            FROM e FULL JOIN s ON e.bucket = s.bucket
            ORDER BY 1
            """
        )

    def traffic(self) -> list[dict]:
        """Per day: stored events and counted-but-dropped lines by reason (bots, static …)."""
        return self._q(
            """
            WITH k AS (
                SELECT day, reason, sum(n) AS n FROM ingest_counts
                WHERE site_id = $site AND day >= CAST($lo AS DATE) AND day < CAST($hi AS DATE)
                GROUP BY day, reason
            ), e AS (
                SELECT CAST(ts AS DATE) AS day, type AS reason, count(*) AS n FROM events
                WHERE site_id = $site AND ts >= $lo AND ts < $hi GROUP BY 1, 2
            )
            SELECT strftime(day, '%Y-%m-%d') AS day, reason, n FROM (
                SELECT * FROM k UNION ALL SELECT * FROM e
            ) ORDER BY day, reason
            """
        )

    def data_range(self) -> tuple[datetime | None, datetime | None]:
        rows = self._q("SELECT min(ts) AS lo, max(ts) AS hi FROM events WHERE site_id = $site")
        return rows[0]["lo"], rows[0]["hi"]
