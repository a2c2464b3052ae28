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
from pathlib import Path
from zoneinfo import ZoneInfo

from amtspuls.collect.logs.formats import LogFormat, ParsedBatch, detect, get_format
from amtspuls.collect.logs.reader import (
    TruncatedInput,
    iter_batches,
    open_log,
    sample_lines,
)
from amtspuls.collect.progress import fingerprint
from amtspuls.config import Settings
from amtspuls.engine import new_engine
from amtspuls.errors import UserError
from amtspuls.ingest import Ingestor
from amtspuls.model import IngestReport, Site
from amtspuls.store import DuckDBStore


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
        report.step_seconds["refresh_daily"] = time.perf_counter() - started_refresh
    report.seconds = time.perf_counter() - started
    return report


def _parsed_batches(settings: Settings, planned: PlannedFile, skip_lines: int,
                    timings: dict[str, float]) -> Iterator[tuple[int, int, ParsedBatch]]:
    """Read and parse in a background thread, one batch ahead of the ingest steps: the
    engine releases the interpreter lock, so reading, parsing and ingesting overlap on
    two cores."""
    handoff: queue.Queue = queue.Queue(maxsize=1)
    done = object()

    def produce() -> None:
        engine = new_engine(settings)
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
                                          settings.max_line_bytes, skip_lines=skip_lines):
                    t_parse = time.perf_counter()
                    timings["read"] = timings.get("read", 0.0) + t_parse - t_read
                    parsed = planned.fmt.parse(batch, engine)
                    timings["parse"] = timings.get("parse", 0.0) + time.perf_counter() - t_parse
                    # Hand over only numbers and the parsed table: the text lines are freed.
                    item = (batch.first_line_no, len(batch.lines), parsed)
                    del batch
                    handoff.put(item)
                    t_read = time.perf_counter()
            handoff.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            handoff.put(exc)
        finally:
            engine.close()

    worker = threading.Thread(target=produce, name="amtspuls-parse", daemon=True)
    worker.start()
    while True:
        item = handoff.get()
        if item is done:
            break
        if isinstance(item, BaseException):
            raise item
        yield item
    worker.join()


def _import_file(settings, store, ingestor, planned: PlannedFile, report: IngestReport,
                 on_progress) -> None:
    key = str(planned.path)
    report.formats[key] = planned.fmt.name
    done = store.import_progress(planned.fingerprint)
    lines_done = done
    try:
        for first_line_no, n, parsed in _parsed_batches(settings, planned, done,
                                                         report.step_seconds):
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
            ingestor.process(parsed.hits, progress)
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
