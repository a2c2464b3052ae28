"""Live tracking behind the endpoints: client address, rate limit, sites, and the durable
way from an accepted request to the store.

    request ─► validated hit rows ─► write-ahead log (fsync, group commit) ─► 2xx
                                            │
                                            └► in-memory queue ─► Ingestor.process
                                               (every INGEST_SECONDS or INGEST_EVENTS,
                                                with the WAL position, atomically)

The ingest runs in one background thread, the only one in this module that writes to
the store. Each batch is stored together with how far its WAL segment is done (the
`imports` table, one fingerprint per segment, site and source), so replaying a segment
after a crash skips what is already stored: every acknowledged event lands exactly once.
A segment is deleted as soon as all its lines are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pyarrow as pa

from amtspuls.collect.events import event_row
from amtspuls.collect.tracking import Tracked
from amtspuls.collect.wal import WriteAheadLog, delete_segment, name_os_thread, read_segment
from amtspuls.config import Settings
from amtspuls.enrich.useragent import classify_user_agents
from amtspuls.errors import UserError
from amtspuls.ingest import Ingestor
from amtspuls.model import HIT_SCHEMA, Site
from amtspuls.privacy.urls import load_rules
from amtspuls.store import DuckDBStore
from amtspuls.store.duckdb_store import normalise_domain

log = logging.getLogger("amtspuls.live")

# Each Ingestor.process call has a fixed cost of a few hundred milliseconds, so batches
# start at most every 3× the last batch's duration, between QUIET_SECONDS and
# INGEST_SECONDS apart, or as soon as INGEST_EVENTS are waiting. An event is stored, and
# in the realtime view, within about a second (1.5 s under full load).
QUIET_SECONDS = 0.25
INGEST_SECONDS = 1.0
INGEST_EVENTS = 5000
GATHER_SECONDS = 0.05  # after a quiet spell, the first event waits this long for company
IDLE_SECONDS = 1.0  # housekeeping (closing and deleting WAL segments) when nothing comes
MAX_BATCH = 50_000  # events handed to one Ingestor.process call at most
SEGMENT_SECONDS = 10.0  # an open WAL segment is closed (then deleted) after this long
REFRESH_DAILY_SECONDS = 300.0  # daily aggregates of touched days are recomputed this often
MAX_BACKLOG = 500_000  # events waiting for the ingest; beyond this requests get 503

SOURCES = ("tracker", "matomo", "plausible")


# -- client address ----------------------------------------------------------------------

class ClientAddress:
    """The client's address: the connection's, or, when the connection comes from a
    configured trusted proxy, the last X-Forwarded-For entry not itself a trusted proxy."""

    def __init__(self, trusted: str) -> None:
        self.networks = []
        for part in trusted.replace(";", ",").split(","):
            part = part.strip().strip("[]'\" ")
            if part:
                try:
                    self.networks.append(ipaddress.ip_network(part, strict=False))
                except ValueError:
                    raise UserError(f"trusted_proxies: not an address or range: {part!r}") from None

    def _trusted(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    def __call__(self, peer: str | None, forwarded_for: str | None) -> str:
        peer = peer or ""
        if not self.networks or not forwarded_for or not self._trusted(peer):
            return peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
            if hop and not self._trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer
        return peer


# -- rate limit --------------------------------------------------------------------------

class RateLimiter:
    """Token bucket per client address, in memory only (never written anywhere)."""

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = float(rate)
        self.burst = float(max(burst, rate, 1))
        self.max_keys = max_keys
        self._buckets: dict[str, list[float]] = {}

    def allow(self, key: str, cost: float = 1.0) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            bucket = self._buckets[key] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens < cost:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - cost
        return True

    def _prune(self, now: float) -> None:
        """Forget buckets that are full again (their clients have been quiet)."""
        full = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < full}
        if len(self._buckets) >= self.max_keys:  # still too many: start afresh
            self._buckets.clear()


# -- sites -------------------------------------------------------------------------------

class SiteCache:
    """Sites by id and domain, read from the store once and again (at most every
    `refresh_seconds`) when a request names a site not known yet."""

    def __init__(self, store: DuckDBStore, refresh_seconds: float = 2.0) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._by_key: dict[str, Site] = {}
        self._loaded = 0.0
        self._lock = asyncio.Lock()

    def load(self) -> None:
        by_key = {}
        for site in self.store.list_sites():
            by_key[str(site.id)] = site
            by_key[site.domain] = site
        self._by_key = by_key
        self._loaded = time.monotonic()

    def _key(self, ref: str) -> str | None:
        ref = ref.strip()
        if ref.isdigit():
            return str(int(ref)) if len(ref) < 10 else None
        try:
            return normalise_domain(ref)
        except UserError:
            return None

    def get(self, ref: str) -> Site | None:
        site = self._by_key.get(ref)  # as stored: most clients send it so
        if site is not None:
            return site
        key = self._key(ref)
        return self._by_key.get(key) if key else None

    async def resolve(self, ref: str) -> Site | None:
        site = self._by_key.get(ref)
        if site is not None:
            return site
        key = self._key(ref)
        if key is None:
            return None
        site = self._by_key.get(key)
        if site is None and time.monotonic() - self._loaded >= self.refresh_seconds:
            async with self._lock:
                if time.monotonic() - self._loaded >= self.refresh_seconds:
                    await asyncio.to_thread(self.load)
            site = self._by_key.get(key)
        return site


# -- from request to store ---------------------------------------------------------------

@dataclass(slots=True)
class _Committed:
    segment: str
    first_line: int
    records: list[dict[str, Any]]


class Backlog(Exception):
    """The ingest is too far behind; the request should be retried later."""


class LiveCollector:
    """Accepts events for the tracking endpoints and brings them into the store."""

    def __init__(self, settings: Settings, store: DuckDBStore) -> None:
        self.settings = settings
        self.store = store
        self.sites = SiteCache(store)
        self.client_address = ClientAddress(settings.trusted_proxies)
        self.limiter = RateLimiter(settings.collect_rate_limit, settings.collect_rate_burst)
        self.rules = load_rules(settings.data_dir / "request_rules.toml")
        self.wal = WriteAheadLog(settings.data_dir / "wal", on_commit=self._committed,
                                 on_close=self._closed, segment_seconds=SEGMENT_SECONDS)
        self._ids = itertools.count(1)
        self._run_id = os.urandom(6).hex()
        self._pending: deque[_Committed] = deque()
        self._pending_events = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="amtspuls-ingest",
                                            initializer=name_os_thread,
                                            initargs=("amtspuls-ingest",))
        self._ingestors: dict[tuple[int, str], Ingestor] = {}
        # fingerprint (segment, site, source) → last line stored; segment → lines up to
        # which all are stored / lines in all (once closed) / its fingerprints
        self._done: dict[str, int] = {}
        self._stored_upto: dict[str, int] = {}
        self._closed_lines: dict[str, int] = {}
        self._fingerprints: dict[str, set[str]] = {}
        self._dirty_sites: set[int] = set()
        self._last_refresh = time.monotonic()
        self.ingested = 0  # events handed to the store (for tests and the bench)
        self.failures = 0

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self.sites.load()
        leftover = self.wal.leftover()
        await self.wal.start()
        self._task = asyncio.create_task(self._ingest_loop(leftover), name="amtspuls-ingest")

    async def stop(self) -> None:
        """Sync what is queued, store everything, delete the segments."""
        await self.wal.close()
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._finish)
        self._executor.shutdown(wait=True)

    # -- requests ----------------------------------------------------------------------
    def records(self, items: Iterable[tuple[Tracked, Site]], source: str, ip: str,
                user_agent: str | None, now: datetime) -> list[dict[str, Any]]:
        """Validated WAL records (hit rows with an event id, site and source)."""
        out = []
        for item, site in items:
            event = dict(item.event)
            if source != "tracker" and event.get("type") == "pageview":
                self._detect_search(event, site)
            event["ip"] = item.ip or ip
            event["ua"] = item.ua or user_agent
            row = event_row(event, item.ts or now)
            record = {k: v for k, v in row.items() if v is not None}
            record["id"] = f"{self._run_id}-{next(self._ids)}"
            record["site"] = site.id
            record["src"] = source
            out.append(record)
        return out

    def _detect_search(self, event: dict[str, Any], site: Site) -> None:
        """A Matomo or Plausible pageview whose URL carries a site-search parameter is a
        search, as a server-log request is (Matomo detects site search the same way)."""
        url = event.get("url")
        if not isinstance(url, str) or "?" not in url:
            return
        names = set(site.search_params) | set(self.rules.search_params)
        for key, value in parse_qsl(url.split("?", 1)[1].split("#", 1)[0]):
            if key.lower() in names and value.strip():
                event["type"] = "search"
                event["query"] = value
                return

    async def submit(self, records: list[dict[str, Any]]) -> None:
        """Durably accept records (raises WalError when the disk fails, Backlog when the
        ingest is too far behind)."""
        if self._pending_events > MAX_BACKLOG:
            raise Backlog()
        if records:
            await self.wal.append(records)

    # -- WAL hooks (event loop) --------------------------------------------------------
    def _committed(self, segment: str, first_line: int, records: list[dict[str, Any]]) -> None:
        self._pending.append(_Committed(segment, first_line, records))
        self._pending_events += len(records)
        self._wake.set()

    def _closed(self, segment: str, lines: int) -> None:
        self._closed_lines[segment] = lines

    # -- the ingest loop ---------------------------------------------------------------
    async def _ingest_loop(self, leftover: list) -> None:
        loop = asyncio.get_running_loop()
        run = self._executor
        try:
            await loop.run_in_executor(run, _warm_up)
            await loop.run_in_executor(run, self._replay, leftover)
        except Exception:
            log.exception("replaying the write-ahead log failed; segments kept for next start")
        backoff = INGEST_SECONDS
        last_start = 0.0
        last_took = 0.0
        while True:
            if not self._stopping:
                # idle: wake on the first event (or now and then for housekeeping)
                if not self._pending:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
                    self._wake.clear()
                # gather a moment; then wait until `interval` after the last batch's start
                # (each batch has a fixed cost: the ingest is busy at most ~1/3 of the
                # time), unless INGEST_EVENTS are waiting
                interval = min(INGEST_SECONDS, max(QUIET_SECONDS, 3 * last_took))
                delay = max(GATHER_SECONDS, last_start + interval - time.monotonic())
                while (delay > 0 and self._pending_events < INGEST_EVENTS
                       and not self._stopping):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), delay)
                    self._wake.clear()
                    delay = last_start + interval - time.monotonic()
            batch = self._take()
            if batch:
                last_start = time.monotonic()
                try:
                    await loop.run_in_executor(run, self._ingest, batch)
                    last_took = time.monotonic() - last_start
                    backoff = INGEST_SECONDS
                except Exception:
                    log.exception("live ingest failed; retrying")
                    self.failures += 1
                    self._requeue(batch)
                    if self._stopping:  # the WAL keeps them for the next start
                        return
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
            try:
                if not self._stopping:
                    await self.wal.rotate_if_older(SEGMENT_SECONDS)
                await loop.run_in_executor(run, self._cleanup)
            except Exception:  # segments stay; the next round (or start) deletes them
                log.exception("closing or deleting WAL segments failed")
            if self._stopping and not self._pending:
                return

    def _take(self) -> list[_Committed]:
        batch: list[_Committed] = []
        n = 0
        while self._pending and n < MAX_BATCH:
            item = self._pending.popleft()
            batch.append(item)
            n += len(item.records)
        self._pending_events -= n
        return batch

    def _requeue(self, batch: list[_Committed]) -> None:
        """Put a failed batch back (lines already stored are skipped the next time)."""
        for item in reversed(batch):
            self._pending.appendleft(item)
            self._pending_events += len(item.records)

    # -- the ingest thread -------------------------------------------------------------
    def _ingestor(self, site_id: int, source: str) -> Ingestor:
        key = (site_id, source)
        ingestor = self._ingestors.get(key)
        if ingestor is None:
            site = self.sites.get(str(site_id)) or self.store.site_by_id(site_id)
            if site is None:
                raise UserError(f"site {site_id} is gone")
            ingestor = self._ingestors[key] = Ingestor(self.settings, self.store, site, source)
        return ingestor

    def _store(self, segment: str, site_id: int, source: str,
               lines: list[tuple[int, dict[str, Any]]]) -> None:
        """One `Ingestor.process` call, stored with how far this segment is done."""
        fp = f"wal:{segment}:{site_id}:{source}"
        self._fingerprints.setdefault(segment, set()).add(fp)
        hits = pa.Table.from_pylist([rec for _, rec in lines], schema=HIT_SCHEMA)
        hits = hits.set_column(0, "line_no", pa.array([n for n, _ in lines], pa.int64()))
        progress = {"fp": fp, "path": f"wal/{segment}", "format": "tracker_wal",
                    "done": lines[-1][0], "counts": None}
        self._ingestor(site_id, source).process(hits, progress)
        self._done[fp] = lines[-1][0]
        self._dirty_sites.add(site_id)
        self.ingested += len(lines)

    def _ingest(self, batch: list[_Committed]) -> None:
        groups: dict[tuple[str, int, str], list[tuple[int, dict[str, Any]]]] = {}
        for item in batch:
            for i, rec in enumerate(item.records):
                key = (item.segment, rec["site"], rec["src"])
                groups.setdefault(key, []).append((item.first_line + i, rec))
        for (segment, site_id, source), lines in groups.items():
            done = self._done.get(f"wal:{segment}:{site_id}:{source}", 0)
            lines = [x for x in lines if x[0] > done] if done else lines
            if lines:
                self._store(segment, site_id, source, lines)
        for item in batch:
            last = item.first_line + len(item.records) - 1
            if last > self._stored_upto.get(item.segment, 0):
                self._stored_upto[item.segment] = last
        self._refresh_daily()

    def _replay(self, paths: list) -> None:
        """Store what segments of an earlier run hold and the store does not, then
        delete them."""
        for path in paths:
            groups: dict[tuple[int, str], list[tuple[int, dict[str, Any]]]] = {}
            bad = 0
            for line_no, rec in read_segment(path):
                if (rec is None or not isinstance(rec.get("site"), int)
                        or rec.get("src") not in SOURCES):
                    bad += 1
                    continue
                if isinstance(rec.get("ts"), str):
                    rec["ts"] = datetime.fromisoformat(rec["ts"])
                groups.setdefault((rec["site"], rec["src"]), []).append((line_no, rec))
            stored = 0
            for (site_id, source), lines in groups.items():
                if self.store.site_by_id(site_id) is None:
                    log.warning("%s: %d events of a deleted site %s dropped", path.name,
                                len(lines), site_id)
                    continue
                fp = f"wal:{path.name}:{site_id}:{source}"
                done = self.store.import_progress(fp)
                todo = [x for x in lines if x[0] > done]
                for i in range(0, len(todo), MAX_BATCH):
                    self._store(path.name, site_id, source, todo[i:i + MAX_BATCH])
                    stored += len(todo[i:i + MAX_BATCH])
            log.warning("replayed %s: %d events stored, %d unreadable lines", path.name,
                        stored, bad)
            delete_segment(path.parent, path.name)
            fps = self._fingerprints.pop(path.name, set())
            fps |= {f"wal:{path.name}:{s}:{src}" for s, src in groups}
            self.store.forget_imports(sorted(fps))
            for fp in fps:
                self._done.pop(fp, None)
        self._refresh_daily(force=True)

    def _cleanup(self) -> None:
        """Delete closed segments whose lines are all stored."""
        for segment, lines in list(self._closed_lines.items()):
            if self._stored_upto.get(segment, 0) >= lines:
                delete_segment(self.wal.directory, segment)
                fps = sorted(self._fingerprints.pop(segment, set()))
                self.store.forget_imports(fps)
                for fp in fps:
                    self._done.pop(fp, None)
                del self._closed_lines[segment]
                self._stored_upto.pop(segment, None)

    def _refresh_daily(self, force: bool = False) -> None:
        if not self._dirty_sites:
            return
        if not force and time.monotonic() - self._last_refresh < REFRESH_DAILY_SECONDS:
            return
        for site_id in sorted(self._dirty_sites):
            site = self.store.site_by_id(site_id)
            try:
                if site is not None:
                    self.store.refresh_daily(site)
            except Exception:  # the days stay marked stale; the next refresh tries again
                log.exception("refreshing the daily aggregates of site %s failed", site_id)
        self._dirty_sites.clear()
        self._last_refresh = time.monotonic()

    def _finish(self) -> None:
        self._cleanup()
        self._refresh_daily(force=True)
        for ingestor in self._ingestors.values():
            ingestor.close()
        self._ingestors.clear()


def _warm_up() -> None:
    """Load the user-agent rules before the first batch (the realtime view should not
    wait a second for them)."""
    classify_user_agents([
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    ])


def now_utc() -> datetime:
    return datetime.now(UTC)
