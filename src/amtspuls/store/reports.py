"""Report queries (the SQL half of `analyze.reports`).

Reports read the daily aggregates (`daily_site`, `daily_pages`, `daily_dims`), brought up
to date first for any day whose events changed, so that they stay fast on months of raw
events. Ranges are whole local days [day_from, day_to] in the site's time zone. Visitor
ids change every day, so visitors over several days are the sum of the days' visitors —
exactly what a distinct count over the raw events gives. k-anonymity is applied by the
caller on the `visitors` column."""

from __future__ import annotations

from datetime import date
from typing import Any

from amtspuls.model import Site
from amtspuls.store.duckdb_store import DuckDBStore

INTERVALS = ("hour", "day", "week")


class ReportQueries:
    def __init__(self, store: DuckDBStore, site: Site, day_from: date, day_to: date,
                 limit: int = 100) -> None:
        self.store = store
        self.p: dict[str, Any] = {"site": site.id, "lo": day_from, "hi": day_to, "limit": limit}
        store.refresh_daily(site)

    def _q(self, sql: str, **extra: Any) -> list[dict]:
        params = {k: v for k, v in {**self.p, **extra}.items() if f"${k}" in sql}
        return self.store.query(sql, params)

    def _dim(self, dim: str, select: str, order: str, where: str = "") -> list[dict]:
        return self._q(
            f"""
            SELECT {select} FROM daily_dims
            WHERE site_id = $site AND day BETWEEN $lo AND $hi AND dim = '{dim}' {where}
            GROUP BY ALL ORDER BY {order} LIMIT $limit
            """
        )

    def overview(self) -> dict:
        row = self._q(
            """
            SELECT coalesce(sum(visitors), 0) AS visitors, coalesce(sum(visits), 0) AS visits,
                   coalesce(sum(pageviews), 0) AS pageviews,
                   coalesce(sum(searches), 0) AS searches,
                   coalesce(sum(downloads), 0) AS downloads,
                   coalesce(sum(not_found), 0) AS not_found,
                   coalesce(sum(bounces), 0) AS bounces,
                   coalesce(sum(duration_s), 0) AS duration_s,
                   coalesce(sum(page_actions), 0) AS page_actions
            FROM daily_site WHERE site_id = $site AND day BETWEEN $lo AND $hi
            """
        )[0]
        visits = int(row["visits"])
        return {
            "visitors": int(row["visitors"]),
            "visits": visits,
            "pageviews": int(row["pageviews"]),
            "searches": int(row["searches"]),
            "downloads": int(row["downloads"]),
            "not_found": int(row["not_found"]),
            "bounce_rate": round(row["bounces"] / visits, 4) if visits else 0.0,
            "avg_visit_seconds": round(float(row["duration_s"]) / visits, 1) if visits else 0.0,
            "actions_per_visit": round(float(row["page_actions"]) / visits, 2) if visits else 0.0,
        }

    def pages(self) -> list[dict]:
        return self._q(
            """
            SELECT path, sum(pageviews) AS pageviews, sum(visitors) AS visitors,
                   any_value(service_id) AS service_id
            FROM daily_pages WHERE site_id = $site AND day BETWEEN $lo AND $hi
            GROUP BY path ORDER BY pageviews DESC, path LIMIT $limit
            """
        )

    def entry_pages(self) -> list[dict]:
        return self._dim(
            "entry",
            "key AS path, sum(visits) AS entries, sum(visitors) AS visitors, "
            "round(sum(bounces) / sum(visits), 4) AS bounce_rate",
            "entries DESC, path",
        )

    def exit_pages(self) -> list[dict]:
        return self._q(
            """
            WITH x AS (
                SELECT key AS path, sum(visits) AS exits, sum(visitors) AS visitors
                FROM daily_dims
                WHERE site_id = $site AND day BETWEEN $lo AND $hi AND dim = 'exit'
                GROUP BY key
            ), v AS (
                SELECT key AS path, sum(hits) AS views
                FROM daily_dims
                WHERE site_id = $site AND day BETWEEN $lo AND $hi AND dim = 'page'
                GROUP BY key
            )
            SELECT x.path, x.exits, x.visitors,
                   round(x.exits / greatest(coalesce(v.views, 0), x.exits), 4) AS exit_rate
            FROM x LEFT JOIN v USING (path)
            ORDER BY x.exits DESC, x.path LIMIT $limit
            """
        )

    def referrers(self) -> list[dict]:
        return self._dim(
            "referrer",
            "key AS referrer_class, key2 AS source, sum(visits) AS visits, "
            "sum(visitors) AS visitors, round(sum(bounces) / sum(visits), 4) AS bounce_rate",
            "visits DESC, referrer_class, source",
        )

    def devices(self) -> dict[str, list[dict]]:
        return {
            key: self._dim(dim, "key AS name, sum(visits) AS visits, sum(visitors) AS visitors",
                           "visits DESC, name")
            for key, dim in (("devices", "device"), ("browsers", "browser"), ("os", "os"))
        }

    def not_found(self) -> list[dict]:
        rows = self._dim(
            "not_found",
            "key AS path, sum(hits) AS hits, sum(visitors) AS visitors, "
            "sum(internal_hits) AS internal_hits",
            "hits DESC, path",
        )
        refs = self._q(
            """
            SELECT key AS path, key2 AS referrer_path, sum(hits) AS hits
            FROM daily_dims
            WHERE site_id = $site AND day BETWEEN $lo AND $hi AND dim = 'not_found_ref'
            GROUP BY ALL ORDER BY hits DESC, referrer_path
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
        return self._dim(
            "download",
            "key AS target, sum(hits) AS downloads, sum(visitors) AS visitors",
            "downloads DESC, target",
        )

    def timeseries(self, interval: str) -> list[dict]:
        if interval == "hour":
            return self._q(
                """
                SELECT strftime(day, '%Y-%m-%d') || 'T' || key || ':00:00' AS period,
                       sum(visitors) AS visitors, sum(visits) AS visits,
                       sum(pageviews) AS pageviews, sum(searches) AS searches
                FROM daily_dims
                WHERE site_id = $site AND day BETWEEN $lo AND $hi AND dim = 'hour'
                GROUP BY ALL ORDER BY period
                """
            )
        bucket = "day" if interval == "day" else "date_trunc('week', day)"
        return self._q(
            f"""
            SELECT strftime({bucket}, '%Y-%m-%dT00:00:00') AS period,
                   sum(visitors) AS visitors, sum(visits) AS visits,
                   sum(pageviews) AS pageviews, sum(searches) AS searches
            FROM daily_site WHERE site_id = $site AND day BETWEEN $lo AND $hi
            GROUP BY ALL ORDER BY period
            """
        )

    def traffic(self) -> list[dict]:
        """Per local day: stored events by type and counted-but-dropped lines by reason
        (bots, static files, redirects …)."""
        return self._q(
            """
            WITH k AS (
                SELECT day, reason, sum(n) AS n FROM ingest_counts
                WHERE site_id = $site AND day BETWEEN $lo AND $hi
                GROUP BY day, reason
            ), e AS (
                UNPIVOT (
                    SELECT s.day, s.pageviews AS pageview, s.searches AS search,
                           s.downloads AS download, s.not_found AS not_found,
                           coalesce(f.form_start, 0) AS form_start,
                           coalesce(f.form_submit, 0) AS form_submit,
                           coalesce(f.form_error, 0) AS form_error
                    FROM daily_site s LEFT JOIN (
                        SELECT day, sum(form_starts) AS form_start,
                               sum(form_submits) AS form_submit, sum(form_errors) AS form_error
                        FROM daily_services WHERE site_id = $site GROUP BY day
                    ) f USING (day)
                    WHERE s.site_id = $site AND s.day BETWEEN $lo AND $hi
                ) ON COLUMNS(* EXCLUDE (day)) INTO NAME reason VALUE n
            )
            SELECT strftime(day, '%Y-%m-%d') AS day, reason, n FROM (
                SELECT * FROM k UNION ALL SELECT * FROM e WHERE n > 0
            ) ORDER BY day, reason
            """
        )


def last_day(store: DuckDBStore, site: Site) -> date | None:
    """The last local day with data (for the default range)."""
    store.refresh_daily(site)
    rows = store.query("SELECT max(day) AS d FROM daily_site WHERE site_id = $site",
                       {"site": site.id})
    return rows[0]["d"]
