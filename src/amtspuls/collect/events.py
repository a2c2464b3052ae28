"""Tracker events as hits: the shape the JS tracker sends (plus the server-side context:
time, client address, user agent), used by the live endpoint and by `import-events`.

An event is a JSON object:

    {"ts": "2026-01-05T08:13:22.123+01:00", "ip": "…", "ua": "…",     # server side
     "type": "pageview", "url": "https://…/path?x", "referrer": "…",    # tracker body
     "title": "…", "query": "…", "results": 3, "category": "…",
     "target": "https://…/file.pdf", "form": "…", "field": "…",
     "engagement_ms": 1200, "name": "…", "props": {…}}
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from amtspuls.collect.logs.formats.base import hits_from_columns
from amtspuls.collect.progress import fingerprint
from amtspuls.config import Settings
from amtspuls.errors import UserError
from amtspuls.model import EVENT_TYPES, HIT_SCHEMA, IngestReport, Site
from amtspuls.store import DuckDBStore

MAX_TEXT = 2048


class BadEvent(ValueError):
    """One event that cannot be used; the message says why."""


def _text(obj: dict, key: str, limit: int = MAX_TEXT) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        else:
            raise BadEvent(f"{key} must be a string")
    return value[:limit]


def _int(obj: dict, key: str) -> int | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise BadEvent(f"{key} must be a whole number") from None
    if not -(2**31) < number < 2**31:
        raise BadEvent(f"{key} out of range")
    return number


def parse_ts(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str):
        raise BadEvent("ts must be an ISO 8601 time with offset")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadEvent(f"ts is not an ISO 8601 time: {value[:40]!r}") from None
    if ts.tzinfo is None:
        raise BadEvent("ts needs a UTC offset")
    return ts.astimezone(UTC)


def event_row(obj: Any, default_ts: datetime | None = None) -> dict[str, Any]:
    """Validate one event object; returns HIT_SCHEMA fields."""
    if not isinstance(obj, dict):
        raise BadEvent("an event must be a JSON object")
    kind = obj.get("type", "pageview")
    if kind not in EVENT_TYPES:
        raise BadEvent(f"unknown event type {str(kind)[:40]!r}")
    url = _text(obj, "url")
    if not url:
        raise BadEvent("url is required")
    ts = parse_ts(obj["ts"]) if obj.get("ts") is not None else default_ts
    if ts is None:
        raise BadEvent("ts is required")
    return {
        "ts": ts,
        "ip": _text(obj, "ip", 64),
        "user_agent": _text(obj, "ua", 1024),
        "method": "GET",
        "url": url,
        "referrer": _text(obj, "referrer"),
        "type": kind,
        "title": _text(obj, "title", 300),
        "search_query": _text(obj, "query", 300),
        "search_results": _int(obj, "results"),
        "search_category": _text(obj, "category", 100),
        "target": _text(obj, "target"),
        "form": _text(obj, "form", 100),
        "field": _text(obj, "field", 100),
        "event_category": _text(obj, "category", 100) if kind == "custom" else None,
        "event_action": _text(obj, "action", 100),
        "event_name": _text(obj, "name", 200),
        "event_value": _float(obj.get("value")),
        "engagement_ms": _int(obj, "engagement_ms"),
    }


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BadEvent("value must be a number") from None


def rows_to_hits(rows: list[dict[str, Any]], line_nos: list[int] | None = None) -> pa.Table:
    columns: dict[str, list] = {}
    for key in rows[0] if rows else ():
        columns[key] = [r[key] for r in rows]
    columns["line_no"] = line_nos if line_nos is not None else list(range(1, len(rows) + 1))
    if not rows:
        return hits_from_columns({"line_no": []})
    return hits_from_columns(columns)


def _open(path: Path):
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a directory")
    with path.open("rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else path.open("rb")


def iter_event_batches(
    path: Path, batch: int, skip_lines: int = 0
) -> Iterator[tuple[list[dict], list[int], list[tuple[int, str]], int]]:
    """(rows, their line numbers, [(bad line number, reason)], last line number) per batch;
    the first `skip_lines` lines are passed over (resuming)."""
    rows: list[dict] = []
    nos: list[int] = []
    bad: list[tuple[int, str]] = []
    with _open(path) as fh:
        line_no = 0
        try:
            for raw in fh:
                line_no += 1
                if line_no <= skip_lines:
                    continue
                if not raw.strip():
                    bad.append((line_no, "blank line"))
                    continue
                try:
                    rows.append(event_row(orjson.loads(raw)))
                    nos.append(line_no)
                except orjson.JSONDecodeError:
                    bad.append((line_no, "not valid JSON"))
                except BadEvent as exc:
                    bad.append((line_no, str(exc)))
                if len(rows) >= batch:
                    yield rows, nos, bad, line_no
                    rows, nos, bad = [], [], []
        except (OSError, EOFError) as exc:
            bad.append((line_no + 1, f"file ends early or is corrupt: {exc}"))
    yield rows, nos, bad, line_no


def import_events(settings: Settings, store: DuckDBStore, site: Site, paths: list[str],
                  source: str = "events") -> IngestReport:
    """Import event files through the same path as the live tracking endpoint."""
    from amtspuls.ingest import Ingestor

    started = time.perf_counter()
    report = IngestReport()
    files = [Path(p) for p in paths]
    for f in files:
        _open(f).close()  # all files must open before anything is written
    ingestor = Ingestor(settings, store, site, source=source, report=report)
    try:
        for path in files:
            key = str(path)
            report.formats[key] = "events_jsonl"
            fp = fingerprint(path, site)
            done = store.import_progress(fp)
            last = done
            for rows, nos, bad, last in iter_event_batches(path, settings.import_batch_lines, done):
                report.lines += len(rows) + len(bad)
                report.imported += len(rows)
                report.add_malformed([n for n, _ in bad])
                for n, reason in bad[:3]:
                    report.errors.append({"file": key, "line": n, "reason": reason})
                progress = {"fp": fp, "path": key, "format": "events_jsonl", "done": last,
                            "counts": None}
                ingestor.process(rows_to_hits(rows, nos) if rows else HIT_SCHEMA.empty_table(),
                                 progress)
            if done and last == done:
                report.skipped_files[key] = f"already imported ({done} lines)"
    finally:
        ingestor.close()
        store.refresh_daily(site)
    report.seconds = time.perf_counter() - started
    return report
