"""The one ingest path for server logs, tracker requests and event files.

A batch of hits (`model.HIT_SCHEMA`) passes a list of named, timed steps:

    put_user_agent   device, browser, OS, bot flag          (per distinct user agent)
    put_url          path, kept query, search, campaign,     (per distinct URL)
                     file type, service
    put_referrer     class, host, internal path, spam flag  (per distinct referrer)
    put_salts        today's salts, truncated IPv6           (per distinct day / address)
    classify         one pass over the rows: what each hit is (pageview, search, …) or why
                     it is dropped (bot, spam_referrer, static, redirect, …); the kept
                     rows become pseudonymous events (visitor id, no IP, no user agent)
    count_dropped    dropped rows counted per day and reason (never materialised)
    ---------------- `prepare` above, `finish` below
    put_session      sessions by inactivity, continued from the store (one ordering of
                     the batch's narrow (visitor, time) rows, no partition per visitor)
    write            stored atomically with the import's progress

Expensive work runs once per distinct value, not per row. Only `write` touches the store,
and by then the IP and user agent are gone: they exist only in the in-memory engine.
`prepare` and `finish` use two connections to that engine, so that a log import can
prepare the next batch while the last one is finished (`collect.logs.importer`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from amtspuls.config import Settings
from amtspuls.engine import new_engine
from amtspuls.enrich.referrer import classify_referrers, is_spam_referrer
from amtspuls.enrich.requests import STORED_KINDS, sql_extension, sql_kind
from amtspuls.enrich.services import map_paths
from amtspuls.enrich.sessions import sql_assign_sessions
from amtspuls.enrich.useragent import classify_user_agents
from amtspuls.enrich.useragent import warm_up as warm_up_user_agents
from amtspuls.localtime import offsets_table, sql_join, sql_local
from amtspuls.model import EVENT_SCHEMA, EVENT_TYPES, IngestReport, Site
from amtspuls.privacy.ip import SQL_IPV4, truncate_ip
from amtspuls.privacy.pii import sql_scrub
from amtspuls.privacy.salts import SaltStore
from amtspuls.privacy.urls import (
    load_rules,
    sql_clean_path,
    sql_decode,
    sql_kept_query,
    sql_param,
    sql_path_and_query,
    sql_target,
)
from amtspuls.privacy.visitor import sql_truncated_ip, sql_visitor_id
from amtspuls.store import DuckDBStore

# Event types a tracker may send (anything else is dropped as `unknown_type`).
_TRACKER_TYPES = ", ".join(f"'{t}'" for t in EVENT_TYPES)
_STORED = ", ".join(f"'{t}'" for t in sorted(set(EVENT_TYPES) | set(STORED_KINDS)))


@dataclass
class Prepared:
    """A batch after `Ingestor.prepare`: its kept rows as pseudonymous events (no IP, no
    user agent) in an engine table, and its dropped rows as counts per day and reason."""

    table: str | None  # None: the batch had no rows
    counts: list[tuple[Any, str, str, int]] = field(default_factory=list)


class Ingestor:
    """Processes batches for one site and one source (`log`, `tracker`, `events`, …).

    `process` = `prepare` (lookups, classification, pseudonymisation: everything up to
    the store) + `finish` (sessions continued from the store, the write). A log import
    runs `prepare` on its reading thread, one batch ahead of `finish`; the two use
    separate connections to the one in-memory engine and must not overlap on one batch.
    """

    def __init__(self, settings: Settings, store: DuckDBStore, site: Site, source: str,
                 report: IngestReport | None = None, threads: int | None = None) -> None:
        self.settings = settings
        self.store = store
        self.site = site
        self.source = source
        self.report = report or IngestReport()
        self.engine = new_engine(settings, threads)
        # The finishing side's own connection to the same in-memory database.
        self.finisher = self.engine.cursor()
        self.finisher.execute("SET TimeZone = 'UTC'")
        self.rules = load_rules(settings.data_dir / "request_rules.toml")
        self.salts = SaltStore(settings.salt_dir, settings.salt_keep_hours)
        self.salts.purge()
        self._counts: list[tuple[Any, str, str, int]] = []
        self._caches: set[str] = set()
        self._batches = 0
        self.steps: list[tuple[str, Callable[[], None]]] = [
            ("put_user_agent", self.put_user_agent),
            ("put_url", self.put_url),
            ("put_referrer", self.put_referrer),
            ("put_salts", self.put_salts),
            ("classify", self.classify),
            ("count_dropped", self.count_dropped),
        ]

    # -- driver ------------------------------------------------------------------------
    def process(self, hits: pa.Table, progress: dict[str, Any] | None = None) -> pa.Table:
        """Run all steps on one batch and store the result atomically (with `progress`)."""
        return self.finish(self.prepare(hits), progress)

    def prepare(self, hits: pa.Table) -> Prepared:
        """The steps up to the store, on `self.engine`: the kept rows end up in an engine
        table (named in the result) without IP or user agent."""
        if not hits.num_rows:
            return Prepared(None)
        self._counts = []
        # From here on time is naive UTC (fast in the engine); local days come from the
        # site's offsets table rather than a time-zone call per row.
        ts_col = hits.schema.get_field_index("ts")
        hits = hits.set_column(ts_col, "ts", pc.cast(hits["ts"], pa.timestamp("us")))
        self.engine.register("batch_hits", hits)  # scanned in place, not copied
        self._batches += 1
        table = f"prepared_{self._batches}"
        try:
            self._put_offsets()
            for name, step in self.steps:
                with self.report.timed(name):
                    step()
            # Shared (not temp) so that the finishing connection sees it.
            self.engine.execute(f"ALTER TABLE kept_hits RENAME TO {table}")
        finally:
            self.engine.unregister("batch_hits")
            self.engine.execute("DROP TABLE IF EXISTS kept_hits")
        return Prepared(table, self._counts)

    def finish(self, prepared: Prepared, progress: dict[str, Any] | None = None) -> pa.Table:
        """Sessions and the write, on `self.finisher`; stores the batch atomically."""
        events = EVENT_SCHEMA.empty_table()
        sessions = None
        con = self.finisher
        try:
            if prepared.table is not None:
                with self.report.timed("put_session"):
                    self.put_session(prepared.table)
                events = self._events()
                sessions = self._session_parts()
            with self.report.timed("write"):
                self.store.write_batch(self.site, events, sessions, prepared.counts, progress)
            report = self.report
            for _day, _source, kind, n in prepared.counts:
                if kind == "bot":
                    report.bots += n
                elif kind == "static":
                    report.static += n
                else:
                    report.count(report.dropped, kind, n)
        finally:
            for table in ("hits", "prior"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
            if prepared.table is not None:
                con.execute(f"DROP TABLE IF EXISTS {prepared.table}")
        return events

    def warm_up(self) -> None:
        """Load the user-agent parser and compile the bot patterns (once per process)."""
        warm_up_user_agents()

    def close(self) -> None:
        self.finisher.close()
        self.engine.close()

    def _distinct(self, expr: str, table: str = "batch_hits") -> list:
        rows = self.engine.execute(f"SELECT DISTINCT {expr} FROM {table}").fetchall()
        return [r[0] for r in rows]

    def _lookup(self, name: str, table: pa.Table, derive: str | None = None) -> None:
        """Materialise a lookup table (optionally with derived columns) in the engine."""
        self.engine.register(f"{name}_arrow", table)
        extra = f", {derive}" if derive else ""
        select = f"SELECT *{extra} FROM {name}_arrow"
        self.engine.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}")
        self.engine.unregister(f"{name}_arrow")

    # -- steps -------------------------------------------------------------------------
    def put_user_agent(self) -> None:
        # NULL (the format has no user-agent field) is not the same as "" or "-" (a client
        # that sent none, almost always a script): only the latter counts as a bot.
        uas = self._distinct("user_agent")
        infos = classify_user_agents(uas)
        self._lookup(
            "ua_info",
            pa.table(
                {
                    "ua": pa.array(uas, pa.string()),
                    "device": [i.device for i in infos],
                    "browser": [i.browser for i in infos],
                    "browser_version": [i.browser_version for i in infos],
                    "os": [i.os for i in infos],
                    "is_bot": [i.is_bot for i in infos],
                }
            ),
        )

    def put_url(self) -> None:
        """URL → path, kept query, search, campaign, file type, service: computed once per
        distinct URL and kept for later batches (most URLs recur; compiling the scrub
        rules costs more than a small batch)."""
        new = self._new_keys("url", "url_info", "url")
        if not new:
            return
        rules = self.rules
        path, query = sql_path_and_query("url")
        self.engine.register("new_urls", pa.table({"url": pa.array(new, pa.string())}))
        self.engine.execute(
            f"""
            INSERT INTO url_info
            WITH s AS (SELECT url, {path} AS raw_path, {query} AS raw_query FROM new_urls)
            SELECT url,
                   raw_path,
                   {sql_clean_path('raw_path')} AS path,
                   {sql_kept_query('raw_query', rules)} AS query,
                   {sql_param('raw_query', rules.search_params)} AS url_search,
                   left({sql_scrub(sql_param('raw_query', rules.campaign_name_params))}, 200)
                       AS campaign,
                   {sql_extension('raw_path')} AS ext,
                   NULL AS service_id
            FROM s
            """
        )
        self.engine.unregister("new_urls")
        paths = [r[0] for r in self.engine.execute(
            "SELECT DISTINCT path FROM url_info WHERE service_id IS NULL").fetchall()]
        self._lookup("svc", pa.table({"svc_path": pa.array(paths, pa.string()),
                                      "svc_id": pa.array(map_paths(paths), pa.string())}))
        self.engine.execute(
            "UPDATE url_info SET service_id = svc.svc_id FROM svc "
            "WHERE url_info.service_id IS NULL AND url_info.path = svc.svc_path"
        )

    def put_referrer(self) -> None:
        new = self._new_keys("coalesce(referrer, '')", "ref_info", "ref")
        if not new:
            return
        infos = classify_referrers(new, self.site.domain, None, aliases=self.site.aliases)
        spam = is_spam_referrer([i.host for i in infos])
        self.engine.register("new_refs", pa.table({
            "ref": pa.array(new, pa.string()),
            "ref_class": [i.ref_class for i in infos],
            "ref_host_raw": [i.host for i in infos],
            "ref_path_raw": [i.path for i in infos],
            "is_spam": spam,
        }))
        self.engine.execute(
            f"""
            INSERT INTO ref_info
            SELECT ref, ref_class, nullif({sql_scrub('ref_host_raw')}, '') AS ref_host,
                   nullif(left({sql_scrub(sql_decode('ref_path_raw'))}, 1024), '') AS ref_path,
                   is_spam
            FROM new_refs
            """
        )
        self.engine.unregister("new_refs")

    # Lookups kept across batches, with a bound so that a stream of unique URLs cannot
    # grow the engine's memory without limit.
    CACHE_ROWS = 200_000
    _CACHES = {
        "url_info": "url VARCHAR, raw_path VARCHAR, path VARCHAR, query VARCHAR, "
                    "url_search VARCHAR, campaign VARCHAR, ext VARCHAR, service_id VARCHAR",
        "ref_info": "ref VARCHAR, ref_class VARCHAR, ref_host VARCHAR, ref_path VARCHAR, "
                    "is_spam BOOLEAN",
    }

    def _new_keys(self, expr: str, cache: str, key: str) -> list:
        """Distinct values of `expr` in the batch that the cache table does not hold yet."""
        if cache not in self._caches or self.engine.execute(
            f"SELECT count(*) FROM {cache}"
        ).fetchall()[0][0] > self.CACHE_ROWS:
            self.engine.execute(f"CREATE OR REPLACE TEMP TABLE {cache} ({self._CACHES[cache]})")
            self._caches.add(cache)
        return [r[0] for r in self.engine.execute(
            f"SELECT DISTINCT b.k FROM (SELECT {expr} AS k FROM batch_hits) b "
            f"WHERE b.k IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {cache} c WHERE c.{key} = b.k)"
        ).fetchall()]

    def put_salts(self) -> None:
        # IPv4 is truncated in the engine; only the rare other forms come to Python.
        others = [r[0] for r in self.engine.execute(
            f"SELECT DISTINCT ip FROM batch_hits WHERE ip IS NOT NULL "
            f"AND NOT regexp_full_match(ip, '{SQL_IPV4}')").fetchall()]
        self._lookup("ip_other", pa.table({
            "ip": pa.array(others, pa.string()),
            "truncated": pa.array([truncate_ip(ip) for ip in others], pa.string()),
        }))
        # Salts rotate at the site's local midnight, so a "day" of visitors is a local day.
        days = [r[0] for r in self.engine.execute(
            f"SELECT DISTINCT {self._local_day('h.ts')} FROM batch_hits h "
            f"{sql_join('h.ts')}").fetchall()]
        self._lookup("salt", pa.table({
            "day": pa.array(days, pa.date32()),
            "salt": pa.array([self.salts.salt_for(d) for d in days], pa.string()),
        }))

    def _sql_kinds(self) -> str:
        """CTEs `j` (each hit joined with its lookups) and `k` (… and its kind)."""
        kind = sql_kind(self.rules)
        return f"""
            WITH j AS (
                SELECT h.* EXCLUDE (search_query),
                       h.search_query AS sent_search,
                       ua.device, ua.browser, ua.browser_version, ua.os, ua.is_bot,
                       u.raw_path, u.path, u.query, u.url_search, u.campaign, u.ext,
                       u.service_id,
                       r.ref_class, r.ref_host, r.ref_path, r.is_spam,
                       coalesce(h.search_query, u.url_search) AS search_query
                FROM batch_hits h
                LEFT JOIN ua_info ua ON h.user_agent IS NOT DISTINCT FROM ua.ua
                LEFT JOIN url_info u ON h.url = u.url
                LEFT JOIN ref_info r ON coalesce(h.referrer, '') = r.ref
            ), k AS (
                SELECT *,
                       CASE
                         WHEN ts IS NULL OR (type IS NULL AND (url IS NULL OR method IS NULL))
                           THEN 'no_request'
                         WHEN type IS NOT NULL AND type NOT IN ({_TRACKER_TYPES})
                           THEN 'unknown_type'
                         WHEN is_bot THEN 'bot'
                         WHEN is_spam THEN 'spam_referrer'
                         ELSE {kind}
                       END AS kind
                FROM j
            )"""

    def classify(self) -> None:
        """One pass over the rows: join the lookups, decide each row's kind, and turn the
        kept ones into pseudonymous events (table `kept_hits`). The
        dropped rows are only counted (`count_dropped`), never materialised."""
        present = self._present(("title", "target", "form", "field", "event_name",
                                 "event_category", "event_action", "search_category"))

        def text(col: str, limit: int, scrub: bool = True) -> str:
            if col not in present:
                return f"NULL::VARCHAR AS {col}"
            value = sql_scrub(col) if scrub else col
            return f"left({value}, {limit}) AS {col}"

        # lower-cased before scrubbing, so that the placeholders stay as written (<PHONE>)
        search = sql_scrub("lower(search_query)")
        self.engine.execute(
            f"""
            CREATE OR REPLACE TABLE kept_hits AS
            {self._sql_kinds()}, kept AS (
                SELECT c.*, {sql_truncated_ip('c.ip')} AS ip_trunc, salt.salt
                FROM k c
                LEFT JOIN ip_other ON c.ip = ip_other.ip
                {sql_join("c.ts")}
                LEFT JOIN salt ON {self._local_day("c.ts")} = salt.day
                WHERE c.kind IN ({_STORED})
            )
            SELECT ts, kind AS type, {sql_visitor_id(self.site.id)} AS visitor_id,
                   path, query,
                   {text('title', 300)},
                   CASE WHEN campaign IS NOT NULL THEN 'campaign' ELSE ref_class END
                       AS referrer_class,
                   ref_host AS referrer_host,
                   ref_path AS referrer_path,
                   campaign,
                   CASE WHEN kind = 'search' THEN
                       left(regexp_replace(trim({search}), '\\s+', ' ', 'g'), 200)
                   END AS search_query,
                   search_results, {text('search_category', 100, scrub=False)},
                   {sql_target('target') + ' AS target' if 'target' in present
                    else 'NULL::VARCHAR AS target'},
                   {text('form', 100)}, {text('field', 100)},
                   {text('event_category', 100, scrub=False)},
                   {text('event_action', 100, scrub=False)},
                   {text('event_name', 200)},
                   event_value, engagement_ms, status, bytes,
                   device, browser, browser_version, os, service_id
            FROM kept
            """
        )

    def count_dropped(self) -> None:
        rows = self.engine.execute(
            f"{self._sql_kinds()} SELECT {self._local_day('c.ts')} AS day, kind, count(*) "
            f"FROM k c {sql_join('c.ts')} WHERE kind NOT IN ({_STORED}) GROUP BY ALL"
        ).fetchall()
        # Added to the report by `finish` (the report is only touched on that side).
        self._counts.extend((day, self.source, kind, n) for day, kind, n in rows)

    def put_session(self, table: str) -> None:
        """Sessions by inactivity over the prepared rows in `table`, continued from the
        store; leaves temp table `hits` (with `session_id`) on the finishing connection."""
        con = self.finisher
        ((lo, hi),) = con.execute(f"SELECT min(ts), max(ts) FROM {table}").fetchall()
        if lo is None:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE prior (visitor_id UBIGINT, last_ts TIMESTAMP, "
                "session_id UBIGINT)"
            )
        else:
            timeout = timedelta(minutes=self.settings.session_timeout_minutes)
            visitors = con.sql(f"SELECT DISTINCT visitor_id FROM {table}").to_arrow_table()
            prior = self.store.prior_visits(
                self.site.id, visitors, lo - timeout, hi
            )
            con.register("prior_arrow", prior.cast(pa.schema([
                ("visitor_id", pa.uint64()), ("last_ts", pa.timestamp("us")),
                ("session_id", pa.uint64())])))
            con.execute("CREATE OR REPLACE TEMP TABLE prior AS SELECT * FROM prior_arrow")
            con.unregister("prior_arrow")
        con.execute(sql_assign_sessions(self.settings.session_timeout_minutes, table))

    def _session_parts(self) -> pa.Table:
        """This batch's share of each session (the store merges it with what it holds)."""
        pages = "type IN ('pageview', 'search', 'not_found')"
        return self.finisher.sql(
            f"""
            SELECT session_id, any_value(visitor_id) AS visitor_id,
                   min(ts) AS start_ts,
                   max(ts) AS end_ts,
                   count(*) FILTER (WHERE type = 'pageview') AS pageviews,
                   count(*) FILTER (WHERE {pages}) AS page_actions,
                   count(*) AS events,
                   count(*) FILTER (WHERE type = 'search') AS searches,
                   arg_min(path, ts) FILTER (WHERE {pages}) AS entry_path,
                   arg_max(path, ts) FILTER (WHERE {pages}) AS exit_path,
                   arg_min(referrer_class, ts) AS referrer_class,
                   arg_min(referrer_host, ts) AS referrer_host,
                   arg_min(campaign, ts) AS campaign,
                   arg_min(device, ts) AS device,
                   arg_min(browser, ts) AS browser,
                   arg_min(os, ts) AS os,
                   sum(engagement_ms) AS engagement_ms
            FROM hits GROUP BY session_id
            """
        ).to_arrow_table()

    def _local_day(self, ts_expr: str) -> str:
        """The site-local day of a naive UTC time (needs `sql_join(ts_expr)` in the query)."""
        return f"CAST({sql_local(ts_expr)} AS DATE)"

    def _put_offsets(self) -> None:
        ((lo, hi),) = self.engine.execute("SELECT min(ts), max(ts) FROM batch_hits").fetchall()
        if lo is None:
            lo = hi = datetime(2000, 1, 1)
        self._lookup("tz_offsets", offsets_table(self.site.timezone, lo, hi))

    def _present(self, columns: tuple[str, ...]) -> set[str]:
        """Which of these (tracker-only) columns hold any value in this batch."""
        counts = self.engine.execute(
            "SELECT " + ", ".join(f"count({c})" for c in columns) + " FROM batch_hits"
        ).fetchall()[0]
        return {c for c, n in zip(columns, counts, strict=True) if n}

    def _events(self) -> pa.Table:
        con = self.finisher
        by_type = con.execute("SELECT type, count(*) FROM hits GROUP BY type").fetchall()
        for kind, n in by_type:
            self.report.count(self.report.by_type, kind, n)
            if kind == "pageview":
                self.report.pageviews += n
        cols = []
        for f in EVENT_SCHEMA:
            if f.name == "site_id":
                cols.append(f"{self.site.id} AS site_id")
            elif f.name == "source":
                cols.append(f"'{self.source}' AS source")
            elif f.name == "ts":
                cols.append("ts")
            else:
                cols.append(f.name)
        table = con.sql(f"SELECT {', '.join(cols)} FROM hits ORDER BY ts").to_arrow_table()
        return table.cast(EVENT_SCHEMA)


def _looks_ipv4(ip: str) -> bool:
    parts = ip.split(".")
    return len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts)
