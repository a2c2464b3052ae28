"""DuckDB backend: one file in the data directory."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from amtspuls.config import Settings
from amtspuls.errors import UserError
from amtspuls.localtime import local_days, offsets_table, sql_join, sql_local
from amtspuls.model import EVENT_SCHEMA, Site
from amtspuls.store.schema import MIGRATIONS

# Per-day report dimensions, from the day's sessions (visits, by start) and events.
_DIMS_SQL = """
INSERT INTO daily_dims
SELECT {sid}, day, 'entry', entry_path, '', count(*), count(DISTINCT visitor_id), 0,
       count(*) FILTER (WHERE is_bounce), 0, 0, 0
FROM day_sessions WHERE entry_path IS NOT NULL GROUP BY day, entry_path;
INSERT INTO daily_dims
SELECT {sid}, day, 'exit', exit_path, '', count(*), count(DISTINCT visitor_id), 0, 0, 0, 0, 0
FROM day_sessions WHERE exit_path IS NOT NULL GROUP BY day, exit_path;
INSERT INTO daily_dims
SELECT {sid}, day, 'referrer', coalesce(referrer_class, 'direct'),
       coalesce(CASE WHEN referrer_class = 'campaign' THEN campaign ELSE referrer_host END, ''),
       count(*), count(DISTINCT visitor_id), 0, count(*) FILTER (WHERE is_bounce), 0, 0, 0
FROM day_sessions WHERE coalesce(referrer_class, 'direct') <> 'internal' GROUP BY ALL;
INSERT INTO daily_dims
SELECT {sid}, day, dim, coalesce(key, 'other'), '', count(*), count(DISTINCT visitor_id),
       0, 0, 0, 0, 0
FROM (
    SELECT day, visitor_id, 'device' AS dim, device AS key FROM day_sessions
    UNION ALL SELECT day, visitor_id, 'browser', browser FROM day_sessions
    UNION ALL SELECT day, visitor_id, 'os', os FROM day_sessions
) GROUP BY ALL;
INSERT INTO daily_dims
SELECT {sid}, day, 'page', path, '', 0, count(DISTINCT visitor_id), count(*), 0, 0,
       count(*) FILTER (WHERE type = 'pageview'), count(*) FILTER (WHERE type = 'search')
FROM day_events WHERE type IN ('pageview', 'search', 'not_found') GROUP BY day, path;
INSERT INTO daily_dims
SELECT {sid}, day, 'download', coalesce(target, path), '', 0, count(DISTINCT visitor_id),
       count(*), 0, 0, 0, 0
FROM day_events WHERE type = 'download' GROUP BY ALL;
INSERT INTO daily_dims
SELECT {sid}, day, 'not_found', path, '', 0, count(DISTINCT visitor_id), count(*), 0,
       count(*) FILTER (WHERE referrer_class = 'internal'), 0, 0
FROM day_events WHERE type = 'not_found' GROUP BY day, path;
INSERT INTO daily_dims
SELECT {sid}, day, 'not_found_ref', path, referrer_path, 0, count(DISTINCT visitor_id),
       count(*), 0, 0, 0, 0
FROM day_events
WHERE type = 'not_found' AND referrer_class = 'internal' AND referrer_path IS NOT NULL
GROUP BY ALL;
INSERT INTO daily_dims
SELECT {sid}, coalesce(e.day, s.day), 'hour', coalesce(e.hour, s.hour), '',
       coalesce(s.visits, 0), coalesce(e.visitors, 0), 0, 0, 0,
       coalesce(e.pageviews, 0), coalesce(e.searches, 0)
FROM (
    SELECT day, strftime(local_ts, '%H') AS hour, count(DISTINCT visitor_id) AS visitors,
           count(*) FILTER (WHERE type = 'pageview') AS pageviews,
           count(*) FILTER (WHERE type = 'search') AS searches
    FROM day_events GROUP BY ALL
) e FULL JOIN (
    SELECT day, strftime(local_start, '%H') AS hour, count(*) AS visits
    FROM day_sessions GROUP BY ALL
) s ON e.day = s.day AND e.hour = s.hour;
"""

# Only the columns the aggregates read are copied for the days being recomputed.
_DAY_EVENT_COLUMNS = ", ".join(
    f"e.{c}" for c in ("type", "visitor_id", "session_id", "path", "service_id", "target",
                       "referrer_class", "referrer_path"))
_DAY_SESSION_COLUMNS = ", ".join(
    f"s.{c}" for c in ("visitor_id", "duration_s", "page_actions", "is_bounce", "entry_path",
                       "exit_path", "referrer_class", "referrer_host", "campaign", "device",
                       "browser", "os"))


class DuckDBStore:
    def __init__(self, settings: Settings, read_only: bool = False) -> None:
        self.settings = settings
        self.path = settings.db_path
        if not read_only:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise UserError(
                f"{settings.data_dir}: no amtspuls data here yet (import something first)"
            )
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise UserError(
                    f"{self.path}: in use by another amtspuls process (stop it or use its API)"
                ) from None
            raise UserError(f"{self.path}: cannot open the store ({exc})") from None
        self.con.execute(f"SET threads = {int(settings.engine_threads)}")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        # An import commits every batch, and each checkpoint recompresses what changed:
        # 128 MB of write-ahead log between checkpoints keeps them few while bounding the
        # memory that not yet checkpointed data holds.
        self.con.execute("SET checkpoint_threshold = '128MB'")
        self._lock = threading.RLock()
        self.write_lock = threading.Lock()
        self._tx_depth = 0  # > 0 while `transaction()` is open (on the thread holding _lock)
        if not read_only:
            self.migrate()

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one thread (the server uses one per request)."""
        return self.con.cursor()

    def migrate(self) -> int:
        with self._lock:
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "description VARCHAR, applied TIMESTAMP DEFAULT current_timestamp)"
            )
            done = {r[0] for r in self.con.execute("SELECT version FROM schema_version").fetchall()}
            applied = 0
            for version, description, sql in MIGRATIONS:
                if version in done:
                    continue
                self.con.execute("BEGIN")
                try:
                    self.con.execute(sql)
                    self.con.execute(
                        "INSERT INTO schema_version (version, description) VALUES (?, ?)",
                        [version, description],
                    )
                    self.con.execute("COMMIT")
                except Exception:
                    self.con.execute("ROLLBACK")
                    raise
                applied += 1
            return applied

    def schema_version(self) -> int:
        rows = self.con.execute("SELECT max(version) FROM schema_version").fetchall()
        return int(rows[0][0] or 0)

    # -- sites -------------------------------------------------------------------------
    def _site(self, row: Sequence[Any]) -> Site:
        settings = json.loads(row[3]) if row[3] else {}
        return Site(
            id=row[0], domain=row[1], timezone=row[2],
            search_params=tuple(settings.get("search_params", ())),
            aliases=tuple(settings.get("aliases", ())),
        )

    # Reads on the shared connection take the lock: the live ingest writes batches on
    # it from another thread (a read in between would run inside that transaction).
    def get_site(self, domain: str) -> Site | None:
        with self._lock:
            rows = self.con.execute(
                "SELECT id, domain, timezone, settings FROM sites WHERE domain = ?",
                [normalise_domain(domain)],
            ).fetchall()
        return self._site(rows[0]) if rows else None

    def site_by_id(self, site_id: int) -> Site | None:
        with self._lock:
            rows = self.con.execute(
                "SELECT id, domain, timezone, settings FROM sites WHERE id = ?", [site_id]
            ).fetchall()
        return self._site(rows[0]) if rows else None

    def list_sites(self) -> list[Site]:
        with self._lock:
            rows = self.con.execute(
                "SELECT id, domain, timezone, settings FROM sites ORDER BY id"
            ).fetchall()
        return [self._site(r) for r in rows]

    def add_site(self, domain: str, timezone: str | None = None,
                 aliases: Sequence[str] = ()) -> Site:
        """Add a site (or return the existing one; new aliases are added to it)."""
        domain = normalise_domain(domain)
        tz = timezone or self.settings.default_timezone
        validate_timezone(tz)
        wanted = [normalise_domain(a) for a in aliases]
        with self._lock:
            existing = self.get_site(domain)
            if existing:
                merged = sorted(set(existing.aliases) | set(wanted))
                if merged != sorted(existing.aliases):
                    self.con.execute(
                        "UPDATE sites SET settings = json_merge_patch(coalesce(settings, '{}'), "
                        "?) WHERE id = ?", [json.dumps({"aliases": merged}), existing.id])
                    existing = self.get_site(domain)
                return existing
            rows = self.con.execute("SELECT coalesce(max(id), 0) + 1 FROM sites").fetchall()
            new_id = int(rows[0][0])
            self.con.execute(
                "INSERT INTO sites (id, domain, timezone, settings) VALUES (?, ?, ?, ?)",
                [new_id, domain, tz, json.dumps({"aliases": sorted(set(wanted))})],
            )
        site = self.get_site(domain)
        assert site is not None
        return site

    def ensure_site(self, domain: str) -> Site:
        return self.get_site(domain) or self.add_site(domain)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around everything written inside (nested uses join it), holding
        the store's lock throughout. A log import stores several batches per transaction:
        each commit costs a write-ahead-log flush, and a transaction that appends more
        than a row group's worth of events lets the engine write them compressed straight
        to the file instead of through the log. Rolled back on any error."""
        with self._lock:
            if self._tx_depth:
                self._tx_depth += 1
                try:
                    yield
                finally:
                    self._tx_depth -= 1
                return
            self.con.execute("BEGIN")
            self._tx_depth = 1
            try:
                yield
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            else:
                self.con.execute("COMMIT")
            finally:
                self._tx_depth = 0

    @contextmanager
    def tuned(self, threads: int, memory_limit: str) -> Iterator[None]:
        """Other engine threads and buffer memory for a while, then the defaults again. A
        bulk import caps the memory (what it writes need not stay cached; the engine
        writes what does not fit to `<store>.tmp`) and runs its statements on fewer
        threads (its own stages already run in parallel)."""
        with self._lock:
            self.con.execute(f"SET threads = {int(threads)}")
            self.con.execute("SET memory_limit = ?", [memory_limit])
        try:
            yield
        finally:
            with self._lock:
                self.con.execute(f"SET threads = {int(self.settings.engine_threads)}")
                self.con.execute("RESET memory_limit")

    # -- ingest ------------------------------------------------------------------------
    def import_progress(self, fingerprint: str) -> int:
        with self._lock:  # the live ingest asks from its thread
            rows = self.con.execute(
                "SELECT lines_done FROM imports WHERE fingerprint = ?", [fingerprint]
            ).fetchall()
        return int(rows[0][0]) if rows else 0

    def forget_imports(self, fingerprints: Sequence[str]) -> None:
        """Drop the progress rows of inputs that are gone (ingested live-tracking WAL
        segments), so that they do not pile up."""
        if fingerprints:
            with self._lock:
                self.con.execute("DELETE FROM imports WHERE list_contains(?, fingerprint)",
                                 [list(fingerprints)])

    def prior_visits(self, site_id: int, visitor_ids: pa.Table, ts_from: datetime,
                     ts_to: datetime) -> pa.Table:
        """Last stored event per visitor shortly before a batch (to continue sessions)."""
        with self._lock:
            if self._tx_depth:
                # Inside an open transaction (this thread holds the lock): only its own
                # connection sees the batches written but not yet committed.
                return self._prior_visits(self.con, site_id, visitor_ids, ts_from, ts_to)
        cur = self.cursor()
        try:
            return self._prior_visits(cur, site_id, visitor_ids, ts_from, ts_to)
        finally:
            cur.close()

    @staticmethod
    def _prior_visits(cur: duckdb.DuckDBPyConnection, site_id: int, visitor_ids: pa.Table,
                      ts_from: datetime, ts_to: datetime) -> pa.Table:
        cur.register("batch_visitors", visitor_ids)
        try:
            return cur.sql(
                """
                SELECT e.visitor_id, max(e.ts) AS last_ts, arg_max(e.session_id, e.ts) AS session_id
                FROM events e SEMI JOIN batch_visitors b ON e.visitor_id = b.visitor_id
                WHERE e.site_id = $site AND e.ts >= $lo AND e.ts <= $hi
                GROUP BY e.visitor_id
                """,
                params={"site": site_id, "lo": ts_from, "hi": ts_to},
            ).to_arrow_table()
        finally:
            cur.unregister("batch_visitors")

    def write_batch(
        self,
        site: Site,
        events: pa.Table,
        sessions: pa.Table | None,
        counts: Iterable[tuple[date, str, str, int]],
        progress: dict[str, Any] | None = None,
    ) -> None:
        """Store one processed batch atomically: events, the batch's part of each session
        (merged into sessions it continues), dropped-row counts, the days whose
        aggregates are now stale, and (for a file import) how far the file is done."""
        events = events.cast(EVENT_SCHEMA)
        counts = [c for c in counts if c[3]]
        with self.transaction():
            con = self.con
            if events.num_rows:
                con.register("new_events", events)
                con.execute("INSERT INTO events SELECT * FROM new_events")
                # Local days touched: from the batch's time range (a handful of days),
                # not a time-zone conversion per event.
                ((lo, hi),) = con.execute("SELECT min(ts), max(ts) FROM new_events").fetchall()
                con.unregister("new_events")
                days = local_days(site.timezone, lo, hi)
                self._insert_rows(con, "dirty_days", pa.table({
                    "site_id": pa.array([site.id] * len(days), pa.int32()),
                    "day": pa.array(days, pa.date32())}))
            if sessions is not None and sessions.num_rows:
                self._merge_sessions(con, site, sessions)
            if counts:
                # One statement from an Arrow table: executemany costs a statement
                # per row.
                self._insert_rows(con, "ingest_counts", pa.table({
                    "site_id": pa.array([site.id] * len(counts), pa.int32()),
                    "day": pa.array([c[0] for c in counts], pa.date32()),
                    "source": pa.array([c[1] for c in counts], pa.string()),
                    "reason": pa.array([c[2] for c in counts], pa.string()),
                    "n": pa.array([c[3] for c in counts], pa.int64())}))
            if progress:
                con.execute(
                    """
                    INSERT INTO imports (fingerprint, site_id, path, format, lines_done, counts)
                    VALUES ($fp, $site, $path, $format, $done, $counts)
                    ON CONFLICT (fingerprint) DO UPDATE SET lines_done = excluded.lines_done,
                        counts = excluded.counts, path = excluded.path, updated = now()
                    """,
                    {**progress, "site": site.id},
                )

    @staticmethod
    def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
        """Append an Arrow table whose columns are `table`'s, in order."""
        con.register("new_rows", rows)
        try:
            con.execute(f"INSERT INTO {table} SELECT * FROM new_rows")
        finally:
            con.unregister("new_rows")

    @staticmethod
    def _merge_sessions(con: duckdb.DuckDBPyConnection, site: Site, parts: pa.Table) -> None:
        """Insert the batch's session parts; a part whose session is already stored (a visit
        continued across batches) is combined with the stored row."""
        con.register("session_parts", parts)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE merged AS
            WITH old AS (
                SELECT * FROM sessions
                WHERE site_id = {site.id}
                  AND end_ts >= (SELECT min(start_ts) - INTERVAL 1 DAY FROM session_parts)
                  AND session_id IN (SELECT session_id FROM session_parts)
            )
            SELECT
                p.session_id, {site.id} AS site_id, p.visitor_id,
                least(p.start_ts, coalesce(o.start_ts, p.start_ts)) AS start_ts,
                greatest(p.end_ts, coalesce(o.end_ts, p.end_ts)) AS end_ts,
                p.pageviews + coalesce(o.pageviews, 0) AS pageviews,
                p.page_actions + coalesce(o.page_actions, 0) AS page_actions,
                p.events + coalesce(o.events, 0) AS events,
                p.searches + coalesce(o.searches, 0) AS searches,
                CASE WHEN o.start_ts IS NOT NULL AND o.start_ts <= p.start_ts
                     THEN coalesce(o.entry_path, p.entry_path) ELSE p.entry_path END AS entry_path,
                CASE WHEN o.end_ts IS NOT NULL AND o.end_ts > p.end_ts
                     THEN o.exit_path ELSE coalesce(p.exit_path, o.exit_path) END AS exit_path,
                CASE WHEN o.start_ts IS NOT NULL THEN o.referrer_class ELSE p.referrer_class END
                    AS referrer_class,
                CASE WHEN o.start_ts IS NOT NULL THEN o.referrer_host ELSE p.referrer_host END
                    AS referrer_host,
                CASE WHEN o.start_ts IS NOT NULL THEN o.campaign ELSE p.campaign END AS campaign,
                coalesce(o.device, p.device) AS device,
                coalesce(o.browser, p.browser) AS browser,
                coalesce(o.os, p.os) AS os,
                CASE WHEN o.engagement_ms IS NULL AND p.engagement_ms IS NULL THEN NULL
                     ELSE coalesce(o.engagement_ms, 0) + coalesce(p.engagement_ms, 0) END
                    AS engagement_ms,
                o.session_id IS NOT NULL AS existed
            FROM session_parts p LEFT JOIN old o USING (session_id)
            """
        )
        con.unregister("session_parts")
        if con.execute("SELECT count(*) FROM merged WHERE existed").fetchall()[0][0]:
            con.execute(
                f"DELETE FROM sessions WHERE site_id = {site.id} "
                "AND session_id IN (SELECT session_id FROM merged WHERE existed)"
            )
        con.execute(
            """
            INSERT INTO sessions
            SELECT session_id, site_id, visitor_id, start_ts, end_ts,
                   date_diff('millisecond', start_ts, end_ts) / 1000.0,
                   pageviews, page_actions, events, searches, entry_path, exit_path,
                   referrer_class, referrer_host, campaign, device, browser, os, engagement_ms,
                   page_actions <= 1
            FROM merged;
            DROP TABLE merged;
            """
        )

    def refresh_daily(self, site: Site, before: date | None = None) -> int:
        """Recompute the daily aggregates of every day marked stale (only those before
        `before`, if given: an import refreshes the days behind it while it runs);
        returns how many days."""
        with self._lock:
            con = self.con
            only = f" AND day < '{before.isoformat()}'" if before is not None else ""
            days = con.execute(
                f"SELECT DISTINCT day FROM dirty_days WHERE site_id = ?{only} ORDER BY day",
                [site.id],
            ).fetchall()
            if not days:
                return 0
            with self.transaction():
                self._refresh_daily(con, site, only)
                con.execute(f"DELETE FROM dirty_days WHERE site_id = ?{only}", [site.id])
            return len(days)

    def _refresh_daily(self, con: duckdb.DuckDBPyConnection, site: Site, only: str = "") -> None:
        sid = site.id
        (lo_day, hi_day), = con.execute(
            f"SELECT min(day), max(day) FROM dirty_days WHERE site_id = {sid}{only}"
        ).fetchall()
        lo = datetime.combine(lo_day, datetime.min.time()) - timedelta(days=1)
        hi = datetime.combine(hi_day, datetime.min.time()) + timedelta(days=2)
        con.register("tz_offsets_arrow", offsets_table(site.timezone, lo, hi))
        con.execute("CREATE OR REPLACE TEMP TABLE tz_offsets AS SELECT * FROM tz_offsets_arrow")
        con.unregister("tz_offsets_arrow")
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE touched_days AS
            SELECT DISTINCT day FROM dirty_days WHERE site_id = {sid}{only};
            CREATE OR REPLACE TEMP TABLE day_events AS
            SELECT * FROM (
                SELECT *, CAST(local_ts AS DATE) AS day FROM (
                    SELECT {_DAY_EVENT_COLUMNS}, {sql_local("e.ts")} AS local_ts FROM events e
                    {sql_join("e.ts")}
                    WHERE e.site_id = {sid} AND e.ts >= '{lo}' AND e.ts < '{hi}'
                )
            ) WHERE day IN (SELECT day FROM touched_days);
            CREATE OR REPLACE TEMP TABLE day_sessions AS
            SELECT * FROM (
                SELECT *, CAST(local_start AS DATE) AS day FROM (
                    SELECT {_DAY_SESSION_COLUMNS}, {sql_local("s.start_ts")} AS local_start
                    FROM sessions s
                    {sql_join("s.start_ts")}
                    WHERE s.site_id = {sid} AND s.start_ts >= '{lo}' AND s.start_ts < '{hi}'
                )
            ) WHERE day IN (SELECT day FROM touched_days);
            """
        )
        con.execute(
            f"""
            DELETE FROM daily_pages
            WHERE site_id = {sid} AND day IN (SELECT day FROM touched_days);
            DELETE FROM daily_services
            WHERE site_id = {sid} AND day IN (SELECT day FROM touched_days);
            DELETE FROM daily_site
            WHERE site_id = {sid} AND day IN (SELECT day FROM touched_days);
            DELETE FROM daily_dims
            WHERE site_id = {sid} AND day IN (SELECT day FROM touched_days);
            INSERT INTO daily_pages
            SELECT {sid}, day, path, any_value(service_id), count(*), count(DISTINCT visitor_id)
            FROM day_events WHERE type = 'pageview' GROUP BY day, path;
            INSERT INTO daily_services
            SELECT {sid}, day, coalesce(service_id, 'none'),
                   count(DISTINCT session_id),
                   count(*) FILTER (WHERE type = 'pageview'),
                   count(*) FILTER (WHERE type = 'search'),
                   count(*) FILTER (WHERE type = 'download'),
                   count(*) FILTER (WHERE type = 'form_start'),
                   count(*) FILTER (WHERE type = 'form_submit'),
                   count(*) FILTER (WHERE type = 'form_error')
            FROM day_events GROUP BY day, coalesce(service_id, 'none');
            INSERT INTO daily_site
            SELECT {sid}, d.day, d.visitors, coalesce(s.visits, 0), d.pageviews, d.searches,
                   d.downloads, d.not_found, coalesce(s.bounces, 0),
                   coalesce(s.duration_s, 0), coalesce(s.page_actions, 0)
            FROM (
                SELECT day, count(DISTINCT visitor_id) AS visitors,
                       count(*) FILTER (WHERE type = 'pageview') AS pageviews,
                       count(*) FILTER (WHERE type = 'search') AS searches,
                       count(*) FILTER (WHERE type = 'download') AS downloads,
                       count(*) FILTER (WHERE type = 'not_found') AS not_found
                FROM day_events GROUP BY day
            ) d LEFT JOIN (
                SELECT day, count(*) AS visits, count(*) FILTER (WHERE is_bounce) AS bounces,
                       sum(duration_s) AS duration_s, sum(page_actions) AS page_actions
                FROM day_sessions GROUP BY day
            ) s USING (day);
            {_DIMS_SQL.format(sid=sid)}
            DROP TABLE day_events;
            DROP TABLE day_sessions;
            DROP TABLE touched_days;
            DROP TABLE tz_offsets;
            """
        )

    # -- retention ---------------------------------------------------------------------
    def delete_events_before(self, cutoff: datetime) -> dict[str, int]:
        """Delete raw events and sessions older than `cutoff` (UTC); aggregates stay
        (they are brought up to date first)."""
        for site in self.list_sites():
            self.refresh_daily(site)
        with self._lock:
            con = self.con
            con.execute("BEGIN")
            try:
                n_events = con.execute(
                    "SELECT count(*) FROM events WHERE ts < ?", [cutoff]
                ).fetchall()[0][0]
                con.execute("DELETE FROM events WHERE ts < ?", [cutoff])
                n_sessions = con.execute(
                    "SELECT count(*) FROM sessions WHERE end_ts < ?", [cutoff]
                ).fetchall()[0][0]
                con.execute("DELETE FROM sessions WHERE end_ts < ?", [cutoff])
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        return {"events": int(n_events), "sessions": int(n_sessions)}

    def write(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list:
        """One small write from a request thread or the CLI (users, recommendations …),
        one at a time."""
        with self.write_lock:
            cur = self.cursor()
            try:
                return cur.execute(sql, params).fetchall()
            finally:
                cur.close()

    # -- reads -------------------------------------------------------------------------
    def query(self, sql: str, params: dict[str, Any] | list[Any] | None = None) -> list[dict]:
        """Run a read query of this package's report SQL and return rows as dicts."""
        cur = self.cursor()
        try:
            result = cur.execute(sql, params or {})
            names = [d[0] for d in result.description]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        finally:
            cur.close()


def normalise_domain(domain: str) -> str:
    d = (domain or "").strip().lower()
    if "://" in d:
        d = d.split("://", 1)[1]
    d = d.split("/", 1)[0]
    if not d or any(c.isspace() for c in d) or len(d) > 253:
        raise UserError(f"not a valid site domain: {domain!r}")
    return d


def validate_timezone(tz: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"unknown time zone {tz!r} (use an IANA name like Europe/Berlin)") from None
