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
    ingestor = Ingestor(settings, store, site, source="log", report=report)
    try:
        for planned in files:
            _import_file(settings, store, ingestor, planned, report, on_progress)
    finally:
        ingestor.close()
        started_refresh = time.perf_counter()
        store.refresh_daily(site)
        report.step_seconds["refresh_daily"] = (report.step_seconds.get("refresh_daily", 0.0)
                                                + time.perf_counter() - started_refresh)
    report.seconds = time.perf_counter() - started
    return report


def _prepared_batches(settings: Settings, ingestor: Ingestor, planned: PlannedFile,
                      skip_lines: int, timings: dict[str, float]
                      ) -> Iterator[tuple[int, int, ParsedBatch, Prepared]]:
    """Read, parse and prepare (`Ingestor.prepare`: lookups, classification,
    pseudonymisation) in a background thread, one batch ahead of `Ingestor.finish`
    (sessions, write): the engine releases the interpreter lock, so the two halves
    overlap on two cores. At most two batches exist at once: the producer starts
    reading the next one only when the consumer has taken the last one (and so is done
    with the one before)."""
    handoff: queue.Queue = queue.Queue(maxsize=1)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        engine = ingestor.engine
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
                    parsed = planned.fmt.parse(batch, engine)
                    timings["parse"] = timings.get("parse", 0.0) + time.perf_counter() - t_parse
                    # Hand over only numbers and the prepared rows: the text lines and the
                    # raw hits are freed here.
                    first, n = batch.first_line_no, len(batch)
                    del batch
                    prepared = ingestor.prepare(parsed.hits)
                    parsed.hits = parsed.hits.schema.empty_table()
                    item = (first, n, parsed, prepared)
                    handoff.put(item)
                    del item, parsed, prepared
                    handoff.join()  # until the consumer has taken it
                    t_read = time.perf_counter()
            handoff.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            if not stop.is_set():
                handoff.put(exc)

    worker = threading.Thread(target=produce, name="amtspuls-parse", daemon=True)
    worker.start()
    try:
        # While the first batch is read: load what the steps need once per process, so
        # that the producer does not do it in the way of every other step.
        ingestor.warm_up()
        while True:
            item = handoff.get()
            handoff.task_done()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
            del item
    finally:
        # Also when the consumer stops early: the producer finishes its batch and ends
        # (whatever it still hands over is dropped) before the engine it uses is closed.
        stop.set()
        while worker.is_alive():
            try:
                handoff.get(timeout=0.05)
                handoff.task_done()
            except queue.Empty:
                pass
        worker.join()


def _import_file(settings, store, ingestor, planned: PlannedFile, report: IngestReport,
                 on_progress) -> None:
    key = str(planned.path)
    report.formats[key] = planned.fmt.name
    done = store.import_progress(planned.fingerprint)
    lines_done = done
    refreshed_to: date | None = None
    try:
        for first_line_no, n, parsed, prepared in _prepared_batches(
                settings, ingestor, planned, done, report.step_seconds):
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
            if events.num_rows:
                # Logs run forward in time: the days before this batch's first event are
                # most likely complete, so their aggregates are computed now (a week at
                # a time), while the next batch is being prepared, rather than all at
                # the end. A day touched again later is marked stale again and
                # recomputed then.
                cut = local_date(ingestor.site, pc.min(events["ts"]).as_py())
                if refreshed_to is None or (cut - refreshed_to).days >= REFRESH_EVERY_DAYS:
                    started = time.perf_counter()
                    store.refresh_daily(ingestor.site, before=cut)
                    refreshed_to = cut
                    report.step_seconds["refresh_daily"] = (
                        report.step_seconds.get("refresh_daily", 0.0)
                        + time.perf_counter() - started)
            del events
            if on_progress:
                on_progress(n)
    except TruncatedInput as exc:
        bad_line = exc.line_no + 1
        report.lines += 1
        report.add_malformed([bad_line])
        report.skipped_files[key] = (
            f"compressed data ends early or is corrupt after line {exc.line_no}: {exc.reason}"
        )
        sys.stderr.write(f"amtspuls: {key}: {report.skipped_files[key]}\n")
    if done and lines_done == done:
        report.skipped_files.setdefault(key, f"already imported ({done} lines)")
