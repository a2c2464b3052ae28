"""`amtspuls import-logs`: files → formats → batches → the ingest path → the store.

Every line is accounted for: imported (stored, or dropped with a counted reason) or
malformed (with its line number). A file is resumable: its progress is committed with
each batch, so re-running the same command continues where it stopped and never
counts a line twice."""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.compute as pc

from amtspuls.collect.logs.formats import LogFormat, ParsedBatch, detect, get_format
from amtspuls.collect.logs.reader import (
    TruncatedInput,
    iter_batches,
    open_log,
    sample_lines,
)
from amtspuls.collect.progress import fingerprint
from amtspuls.config import Settings
from amtspuls.errors import UserError
from amtspuls.ingest import Ingestor, Prepared
from amtspuls.model import IngestReport, Site
from amtspuls.store import DuckDBStore

# During an import, daily aggregates are brought up to date once this many days are done.
REFRESH_EVERY_DAYS = 7
# Prepared batches that may wait for the storing side.
PREPARED_AHEAD = 1


def local_date(site: Site, ts: datetime) -> date:
    """The site-local date of a naive UTC time."""
    return ts.replace(tzinfo=UTC).astimezone(ZoneInfo(site.timezone)).date()


@dataclass
class PlannedFile:
    path: Path
    fmt: LogFormat
    fingerprint: str


def plan(paths: list[str], site: Site, format_name: str, settings: Settings) -> list[PlannedFile]:
    """Check every file before anything is written: exists, text, a known format."""
    extra = settings.data_dir / "log_formats.toml"
    planned = []
    for raw in paths:
        path = Path(raw)
        sample = sample_lines(path)
        if not any(line.strip() for line in sample):
            raise UserError(f"{path}: empty file, nothing to import")
        if format_name == "auto":
            fmt = detect(sample, extra)
            if fmt is None:
                raise UserError(
                    f"{path}: log format not recognised; name it with --format "
                    "(see `amtspuls formats`)"
                )
        else:
            fmt = get_format(format_name, extra)
            if fmt.match_rate(sample) == 0:
                raise UserError(f"{path}: no line of the sample is in format {format_name!r}")
        if hasattr(fmt, "local_tz"):
            # Times written without an offset (syslog, HAProxy, IIS date-local) are the
            # server's local time, taken to be the site's.
            fmt.local_tz = ZoneInfo(site.timezone)
        planned.append(PlannedFile(path, fmt, fingerprint(path, site)))
    return planned


def import_logs(
    settings: Settings,
    store: DuckDBStore,
    site: Site,
    paths: list[str],
    format_name: str = "auto",
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport()
    files = plan(paths, site, format_name, settings)
    # The import's two stages run in parallel, each on `import_stage_threads` engine
    # threads: more would only compete for the same cores.
    threads = settings.import_stage_threads
    ingestor = Ingestor(settings, store, site, source="log", report=report, threads=threads)
    try:
        with store.tuned(threads, settings.import_store_memory):
            for planned in files:
                _import_file(settings, store, ingestor, planned, report, on_progress)
    finally:
        ingestor.close()
        with report.timed("refresh_daily"):
            store.refresh_daily(site)
    report.seconds = time.perf_counter() - started
    return report


def _prepared_batches(settings: Settings, ingestor: Ingestor, planned: PlannedFile,
                      skip_lines: int, timings: dict[str, float]
                      ) -> Iterator[tuple[int, int, ParsedBatch, Prepared]]:
    """Three stages, one batch after another, overlapping on the cores (the engine
    releases the interpreter lock): a reading thread reads and parses, a preparing
    thread runs `Ingestor.prepare` (lookups, classification, pseudonymisation), and the
    caller `Ingestor.finish` (sessions, write).

    Memory stays bounded: the raw lines of one batch exist at a time (the reader's), the
    parsed hits of at most two (one waiting, one being prepared), and up to
    `PREPARED_AHEAD` prepared batches (kept rows without IP or user agent, about a third
    of the lines) wait for the caller, so that no stage idles when a batch takes
    another stage longer than usual."""
    parsed_q: queue.Queue = queue.Queue(maxsize=1)
    handoff: queue.Queue = queue.Queue(maxsize=PREPARED_AHEAD)
    done = object()
    stop = threading.Event()
    # The reader's own connection to the engine (a connection serves one thread).
    parser = ingestor.engine.cursor()

    def read() -> None:
        try:
            if skip_lines and hasattr(planned.fmt, "replay"):
                # Resuming: header state (W3C #Fields) is rebuilt from the lines already done.
                with open_log(planned.path) as fh:
                    for batch in iter_batches(fh, settings.import_batch_lines,
                                              settings.max_line_bytes):
                        if batch.first_line_no > skip_lines:
                            break
                        planned.fmt.replay(batch.lines[: skip_lines - batch.first_line_no + 1])
            with open_log(planned.path) as fh:
                t_read = time.perf_counter()
                for batch in iter_batches(fh, settings.import_batch_lines,
                                          settings.max_line_bytes, skip_lines=skip_lines,
                                          first_batch_lines=settings.import_batch_lines // 4):
                    if stop.is_set():
                        return
                    t_parse = time.perf_counter()
                    timings["read"] = timings.get("read", 0.0) + t_parse - t_read
                    parsed = planned.fmt.parse(batch, parser)
                    timings["parse"] = timings.get("parse", 0.0) + time.perf_counter() - t_parse
                    item = (batch.first_line_no, len(batch), parsed)
                    del batch, parsed  # the text lines are freed here
                    parsed_q.put(item)
                    del item
                    # Until the preparing thread has taken it: only then is the batch
                    # before it done, and the next one read.
                    parsed_q.join()
                    t_read = time.perf_counter()
            parsed_q.put(done)
        except BaseException as exc:  # handed on to the caller, raised there
            parsed_q.put(exc)

    def prepare() -> None:
        try:
            while True:
                try:
                    item = parsed_q.get(timeout=0.1)
                except queue.Empty:
                    if stop.is_set():  # the caller has stopped: the reader may be gone
                        return
                    continue
                parsed_q.task_done()
                if item is done or isinstance(item, BaseException):
                    handoff.put(item)
                    return
                if stop.is_set():
                    continue
                first, n, parsed = item
                del item
                prepared = ingestor.prepare(parsed.hits)
                # Hand over only numbers and the prepared rows: the raw hits are freed.
                parsed.hits = parsed.hits.schema.empty_table()
                handoff.put((first, n, parsed, prepared))  # waits while PREPARED_AHEAD wait
                del parsed, prepared
        except BaseException as exc:
            handoff.put(exc)

    workers = [threading.Thread(target=read, name="amtspuls-read", daemon=True),
               threading.Thread(target=prepare, name="amtspuls-prepare", daemon=True)]
    for worker in workers:
        worker.start()
    try:
        # While the first batch is read: load what the steps need once per process, so
        # that the workers do not do it in the way of every other step.
        ingestor.warm_up()
        while True:
            item = handoff.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
            del item
    finally:
        # Also when the caller stops early: the workers finish their batch and end
        # (whatever they still hand over is dropped) before the engine they use is closed.
        stop.set()
        while any(worker.is_alive() for worker in workers):
            for q in (parsed_q, handoff):
                with suppress(queue.Empty):
                    q.get(timeout=0.02)
                    q.task_done()
        for worker in workers:
            worker.join()
        parser.close()


def _import_file(settings, store, ingestor, planned: PlannedFile, report: IngestReport,
                 on_progress) -> None:
    key = str(planned.path)
    report.formats[key] = planned.fmt.name
    done = store.import_progress(planned.fingerprint)
    lines_done = done
    refreshed_to: date | None = None
    # Batches are stored a few at a time in one transaction (`DuckDBStore.transaction`),
    # each with the file's progress: an error rolls back to the last commit, from where
    # a re-run resumes.
    with ExitStack() as open_tx:
        uncommitted = 0
        try:
            for first_line_no, n, parsed, prepared in _prepared_batches(
                    settings, ingestor, planned, done, report.step_seconds):
                if not uncommitted:
                    open_tx.enter_context(store.transaction())
                lines_done = first_line_no + n - 1
                imported = n - len(parsed.malformed)
                for reason, count in parsed.skipped.items():
                    report.count(report.dropped, reason, count)
                report.lines += n
                report.imported += imported
                report.add_malformed(parsed.malformed)
                progress = {
                    "fp": planned.fingerprint,
                    "path": key,
                    "format": planned.fmt.name,
                    "done": lines_done,
                    "counts": None,
                }
                events = ingestor.finish(prepared, progress)
                del parsed, prepared  # not kept alive while the next batch is awaited
                uncommitted += max(1, events.num_rows)
                if events.num_rows:
                    # Logs run forward in time: the days before this batch's first event
                    # are most likely complete, so their aggregates are computed now (a
                    # week at a time), while the next batch is being prepared, rather
                    # than all at the end. A day touched again later is marked stale
                    # again and recomputed then.
                    cut = local_date(ingestor.site, pc.min(events["ts"]).as_py())
                    if refreshed_to is None or (cut - refreshed_to).days >= REFRESH_EVERY_DAYS:
                        with report.timed("refresh_daily"):
                            store.refresh_daily(ingestor.site, before=cut)
                        refreshed_to = cut
                del events
                if uncommitted >= settings.import_commit_events:
                    with report.timed("commit"):
                        open_tx.close()
                    uncommitted = 0
                if on_progress:
                    on_progress(n)
        except TruncatedInput as exc:
            # What came before the damage is kept (committed with the open transaction).
            bad_line = exc.line_no + 1
            report.lines += 1
            report.add_malformed([bad_line])
            report.skipped_files[key] = (
                f"compressed data ends early or is corrupt after line {exc.line_no}: "
                f"{exc.reason}"
            )
            sys.stderr.write(f"amtspuls: {key}: {report.skipped_files[key]}\n")
        with report.timed("commit"):
            open_tx.close()
    if done and lines_done == done:
        report.skipped_files.setdefault(key, f"already imported ({done} lines)")
