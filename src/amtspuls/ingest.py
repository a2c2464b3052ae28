"""The one ingest path for server logs, tracker requests and event files.

A batch of hits (`model.HIT_SCHEMA`) passes a list of named steps, each enriching it or
dropping rows with a counted reason, each timed:

    drop_no_request → put_user_agent → drop_bots → put_url → put_referrer →
    drop_spam_referrers → classify → drop_uncounted → put_visitor_id → put_session →
    put_service → write

The steps run in the in-memory engine (`engine.py`); only the last one touches the store,
and by then the IP and user agent are gone.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pyarrow as pa

from amtspuls.config import Settings
from amtspuls.engine import new_engine
from amtspuls.enrich.bots import is_bot
from amtspuls.enrich.referrer import classify_referrers, is_spam_referrer
from amtspuls.enrich.requests import DROPPED_KINDS, STORED_KINDS, sql_extension, sql_kind
from amtspuls.enrich.services import map_paths
from amtspuls.enrich.sessions import sql_assign_sessions
from amtspuls.enrich.useragent import classify_user_agents
from amtspuls.model import EVENT_SCHEMA, EVENT_TYPES, IngestReport, Site
from amtspuls.privacy.ip import truncate_ip
from amtspuls.privacy.pii import sql_scrub
from amtspuls.privacy.salts import SaltStore
from amtspuls.privacy.urls import (
    load_rules,
    sql_clean_path,
    sql_kept_query,
    sql_param,
    sql_path_and_query,
    sql_target,
)
from amtspuls.privacy.visitor import sql_truncated_ip, sql_visitor_id
from amtspuls.store import DuckDBStore


class Ingestor:
    """Processes batches for one site and one source (`log`, `tracker`, `events`, …)."""

    def __init__(self, settings: Settings, store: DuckDBStore, site: Site, source: str,
                 report: IngestReport | None = None) -> None:
        self.settings = settings
        self.store = store
        self.site = site
        self.source = source
        self.report = report or IngestReport()
        self.engine = new_engine(settings)
        self.rules = load_rules(settings.data_dir / "request_rules.toml")
        self.salts = SaltStore(settings.salt_dir, settings.salt_keep_hours)
        self.salts.purge()
        self._counts: dict[tuple[date, str], int] = defaultdict(int)
        self.steps: list[tuple[str, Callable[[], None]]] = [
            ("drop_no_request", self.drop_no_request),
            ("put_user_agent", self.put_user_agent),
            ("drop_bots", self.drop_bots),
            ("put_url", self.put_url),
            ("put_referrer", self.put_referrer),
            ("drop_spam_referrers", self.drop_spam_referrers),
            ("classify", self.classify),
            ("drop_uncounted", self.drop_uncounted),
            ("put_visitor_id", self.put_visitor_id),
            ("put_session", self.put_session),
            ("put_service", self.put_service),
        ]

    # -- driver ------------------------------------------------------------------------
    def process(self, hits: pa.Table, progress: dict[str, Any] | None = None) -> pa.Table:
        """Run all steps on one batch and store the result atomically (with `progress`)."""
        self._counts.clear()
        timings = self.report.step_seconds
        self.engine.register("incoming", hits)
        self.engine.execute("CREATE OR REPLACE TEMP TABLE hits AS SELECT * FROM incoming")
        self.engine.unregister("incoming")
        for name, step in self.steps:
            started = time.perf_counter()
            if self._rows() or name == "drop_no_request":
                step()
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
        started = time.perf_counter()
        events = self._events()
        counts = [(d, self.source, reason, n) for (d, reason), n in self._counts.items()]
        self.store.write_batch(self.site, events, counts, progress)
        timings["write"] = timings.get("write", 0.0) + time.perf_counter() - started
        self.engine.execute("DROP TABLE IF EXISTS hits")
        return events

    def close(self) -> None:
        self.engine.close()

    def _rows(self) -> int:
        return int(self.engine.execute("SELECT count(*) FROM hits").fetchall()[0][0])

    def _distinct(self, expr: str) -> list:
        return [r[0] for r in self.engine.execute(f"SELECT DISTINCT {expr} FROM hits").fetchall()]

    def _drop(self, reason: str, condition: str) -> int:
        """Remove rows matching `condition`, counted per UTC day under `reason`."""
        rows = self.engine.execute(
            f"SELECT CAST(ts AS DATE), count(*) FROM hits WHERE {condition} GROUP BY 1"
        ).fetchall()
        total = 0
        for day, n in rows:
            self._counts[(day, reason)] += n
            total += n
        if total:
            self.engine.execute(f"DELETE FROM hits WHERE {condition}")
            self.report.count(self.report.dropped, reason, total)
        return total

    def _lookup(self, name: str, table: pa.Table) -> None:
        self.engine.register(f"{name}_arrow", table)
        self.engine.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
        self.engine.unregister(f"{name}_arrow")

    # -- steps -------------------------------------------------------------------------
    def drop_no_request(self) -> None:
        self._drop("no_request", "ts IS NULL OR (type IS NULL AND (url IS NULL OR method IS NULL))")

    def put_user_agent(self) -> None:
        uas = self._distinct("coalesce(user_agent, '')")
        infos = classify_user_agents(uas)
        bots = is_bot(uas)
        self._lookup(
            "ua_info",
            pa.table(
                {
                    "ua": pa.array(uas, pa.string()),
                    "device": [i.device for i in infos],
                    "browser": [i.browser for i in infos],
                    "browser_version": [i.browser_version for i in infos],
                    "os": [i.os for i in infos],
                    "is_bot": [i.is_bot or b for i, b in zip(infos, bots, strict=True)],
                }
            ),
        )
        self.engine.execute(
            """
            CREATE OR REPLACE TEMP TABLE hits AS
            SELECT h.*, u.device, u.browser, u.browser_version, u.os, u.is_bot
            FROM hits h LEFT JOIN ua_info u ON coalesce(h.user_agent, '') = u.ua
            """
        )

    def drop_bots(self) -> None:
        self.report.bots += self._drop("bot", "is_bot")
        self.report.dropped.pop("bot", None)

    def put_url(self) -> None:
        path, query = sql_path_and_query("url")
        rules = self.rules
        search = sql_param("raw_query", rules.search_params)
        self.engine.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE hits AS
            WITH s AS (SELECT *, {path} AS raw_path, {query} AS raw_query FROM hits)
            SELECT * REPLACE (
                       left(lower(regexp_replace(trim({sql_scrub(
                           f"coalesce(search_query, {search})")}), '\\s+', ' ', 'g')), 200)
                       AS search_query,
                       left({sql_scrub('title')}, 300) AS title,
                       {sql_target('target')} AS target,
                       left({sql_scrub('form')}, 100) AS form,
                       left({sql_scrub('field')}, 100) AS field
                   ),
                   {sql_clean_path('raw_path')} AS path,
                   {sql_kept_query('raw_query', rules)} AS query,
                   {sql_param('raw_query', rules.campaign_name_params)} AS campaign_raw,
                   {sql_extension('raw_path')} AS ext
            FROM s
            """
        )

    def put_referrer(self) -> None:
        refs = self._distinct("coalesce(referrer, '')")
        infos = classify_referrers(refs, self.site.domain, None)
        hosts = [i.host for i in infos]
        spam = is_spam_referrer(hosts)
        self._lookup(
            "ref_info",
            pa.table(
                {
                    "ref": pa.array(refs, pa.string()),
                    "ref_class": [i.ref_class for i in infos],
                    "ref_host": [i.host for i in infos],
                    "ref_path": [i.path for i in infos],
                    "is_spam": spam,
                }
            ),
        )
        self.engine.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE hits AS
            SELECT h.* EXCLUDE (referrer, campaign_raw),
                   CASE WHEN h.campaign_raw IS NOT NULL THEN 'campaign' ELSE r.ref_class END
                       AS referrer_class,
                   nullif({sql_scrub('r.ref_host')}, '') AS referrer_host,
                   nullif(left({sql_scrub('r.ref_path')}, 1024), '') AS referrer_path,
                   left({sql_scrub('h.campaign_raw')}, 200) AS campaign,
                   r.is_spam
            FROM hits h LEFT JOIN ref_info r ON coalesce(h.referrer, '') = r.ref
            """
        )

    def drop_spam_referrers(self) -> None:
        self._drop("spam_referrer", "is_spam")

    def classify(self) -> None:
        self.engine.execute(
            f"CREATE OR REPLACE TEMP TABLE hits AS SELECT * REPLACE ({sql_kind(self.rules)} AS type) FROM hits"
        )

    def drop_uncounted(self) -> None:
        for kind in DROPPED_KINDS:
            n = self._drop(kind, f"type = '{kind}'")
            if kind == "static":
                self.report.static += n
                self.report.dropped.pop("static", None)
        known = ", ".join(f"'{k}'" for k in (*EVENT_TYPES, *STORED_KINDS))
        self._drop("unknown_type", f"type NOT IN ({known})")

    def put_visitor_id(self) -> None:
        others = [
            ip for ip in self._distinct("ip")
            if ip is not None and not _looks_ipv4(ip)
        ]
        self._lookup(
            "ip_other",
            pa.table(
                {
                    "ip": pa.array(others, pa.string()),
                    "truncated": pa.array([truncate_ip(ip) for ip in others], pa.string()),
                }
            ),
        )
        days = self._distinct("CAST(ts AS DATE)")
        self._lookup(
            "salt",
            pa.table({"day": pa.array(days, pa.date32()),
                      "salt": [self.salts.salt_for(d) for d in days]}),
        )
        self.engine.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE hits AS
            WITH t AS (
                SELECT h.*, {sql_truncated_ip('h.ip')} AS ip_trunc
                FROM hits h LEFT JOIN ip_other ON h.ip = ip_other.ip
            )
            SELECT t.* EXCLUDE (ip, user_agent, ip_trunc),
                   {sql_visitor_id(self.site.id)} AS visitor_id
            FROM t JOIN salt ON CAST(t.ts AS DATE) = salt.day
            """
        )
        self.engine.execute("DROP TABLE ip_other; DROP TABLE salt")

    def put_session(self) -> None:
        (lo, hi), = self.engine.execute("SELECT min(ts), max(ts) FROM hits").fetchall()
        timeout = timedelta(minutes=self.settings.session_timeout_minutes)
        visitors = self.engine.sql("SELECT DISTINCT visitor_id FROM hits").to_arrow_table()
        prior = self.store.prior_visits(
            self.site.id, visitors, _naive_utc(lo) - timeout, _naive_utc(hi)
        )
        self._lookup("prior", prior.cast(pa.schema([
            ("visitor_id", pa.uint64()), ("last_ts", pa.timestamp("us", tz="UTC")),
            ("session_id", pa.uint64())])))
        self.engine.execute(sql_assign_sessions(self.settings.session_timeout_minutes))

    def put_service(self) -> None:
        paths = self._distinct("path")
        self._lookup(
            "svc", pa.table({"p": pa.array(paths, pa.string()),
                             "service_id": pa.array(map_paths(paths), pa.string())})
        )
        self.engine.execute(
            """
            CREATE OR REPLACE TEMP TABLE hits AS
            SELECT h.*, svc.service_id FROM hits h LEFT JOIN svc ON h.path = svc.p
            """
        )

    def _events(self) -> pa.Table:
        if not self._table_exists() or self._rows() == 0:
            return EVENT_SCHEMA.empty_table()
        for kind, n in self.engine.execute(
            "SELECT type, count(*) FROM hits GROUP BY type"
        ).fetchall():
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
                cols.append("CAST(ts AT TIME ZONE 'UTC' AS TIMESTAMP) AS ts")
            else:
                cols.append(f.name)
        table = self.engine.sql(
            f"SELECT {', '.join(cols)} FROM hits ORDER BY ts"
        ).to_arrow_table()
        return table.cast(EVENT_SCHEMA)

    def _table_exists(self) -> bool:
        return bool(self.engine.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'hits' AND temporary"
        ).fetchall()[0][0])


def _looks_ipv4(ip: str) -> bool:
    parts = ip.split(".")
    return len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts)


def _naive_utc(ts):
    return ts.replace(tzinfo=None) if ts is not None and ts.tzinfo is not None else ts
