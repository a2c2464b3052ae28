"""Shared types: the columns that flow between stages, and the records the store returns.

Batches are Arrow tables. `HIT_SCHEMA` is what every collector (log parser, tracking
endpoint, event import) hands to the ingest pipeline; `EVENT_SCHEMA` is what the
pipeline hands to the store. Nothing personal survives from the first to the second:
`ip` and `user_agent` exist only in hits.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pyarrow as pa

EVENT_TYPES: tuple[str, ...] = (
    "pageview",
    "search",
    "download",
    "outlink",
    "form_start",
    "form_submit",
    "form_error",
    "rage_click",
    "engagement",
    "custom",
    "not_found",
)

# Event types that are a page the visitor looked at (they make up a session's path).
PAGE_TYPES: tuple[str, ...] = ("pageview", "search", "not_found")

# What a collector hands to the pipeline: one row per request or tracker event.
# `type` is null for raw server-log lines (the pipeline classifies them).
HIT_SCHEMA = pa.schema(
    [
        ("line_no", pa.int64()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("ip", pa.string()),
        ("user_agent", pa.string()),
        ("host", pa.string()),
        ("method", pa.string()),
        ("url", pa.string()),
        ("status", pa.int32()),
        ("bytes", pa.int64()),
        ("referrer", pa.string()),
        ("type", pa.string()),
        ("title", pa.string()),
        ("search_query", pa.string()),
        ("search_results", pa.int32()),
        ("search_category", pa.string()),
        ("target", pa.string()),
        ("form", pa.string()),
        ("field", pa.string()),
        ("event_category", pa.string()),
        ("event_action", pa.string()),
        ("event_name", pa.string()),
        ("event_value", pa.float64()),
        ("engagement_ms", pa.int64()),
    ]
)

# What the store keeps: pseudonymous, scrubbed, enriched.
EVENT_SCHEMA = pa.schema(
    [
        ("site_id", pa.int32()),
        ("ts", pa.timestamp("us")),  # UTC, naive
        ("type", pa.string()),
        ("visitor_id", pa.uint64()),
        ("session_id", pa.uint64()),
        ("path", pa.string()),
        ("query", pa.string()),
        ("title", pa.string()),
        ("referrer_class", pa.string()),
        ("referrer_host", pa.string()),
        ("referrer_path", pa.string()),
        ("campaign", pa.string()),
        ("search_query", pa.string()),
        ("search_results", pa.int32()),
        ("search_category", pa.string()),
        ("target", pa.string()),
        ("form", pa.string()),
        ("field", pa.string()),
        ("event_category", pa.string()),
        ("event_action", pa.string()),
        ("event_name", pa.string()),
        ("event_value", pa.float64()),
        ("engagement_ms", pa.int64()),
        ("status", pa.int32()),
        ("bytes", pa.int64()),
        ("device", pa.string()),
        ("browser", pa.string()),
        ("browser_version", pa.string()),
        ("os", pa.string()),
        ("service_id", pa.string()),
        ("source", pa.string()),
    ]
)


def empty_hits() -> pa.Table:
    return HIT_SCHEMA.empty_table()


@dataclass
class Site:
    id: int
    domain: str
    timezone: str = "Europe/Berlin"
    search_params: tuple[str, ...] = ()
    # Other host names of the same website (links from them are internal).
    aliases: tuple[str, ...] = ()


@dataclass
class IngestReport:
    """What an import reports: every input line is accounted for."""

    lines: int = 0
    imported: int = 0
    pageviews: int = 0
    bots: int = 0
    static: int = 0
    malformed: int = 0
    malformed_lines: list[int] = field(default_factory=list)
    # Parsed but dropped, by reason (spam_referrer, duplicate, …) — part of `imported`.
    dropped: dict[str, int] = field(default_factory=dict)
    # Kept events by type (pageview, download, not_found, search, …).
    by_type: dict[str, int] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    skipped_files: dict[str, str] = field(default_factory=dict)
    # The first few problems with their reasons (file, line, reason).
    errors: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)

    MAX_MALFORMED_LINES = 20

    def add_malformed(self, line_numbers: list[int], where: str = "") -> None:
        self.malformed += len(line_numbers)
        room = self.MAX_MALFORMED_LINES - len(self.malformed_lines)
        if room > 0:
            self.malformed_lines.extend(line_numbers[:room])

    def count(self, bucket: dict[str, int], key: str, n: int) -> None:
        if n:
            bucket[key] = bucket.get(key, 0) + n

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Adds the time spent inside to `step_seconds[step]`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.step_seconds[step] = (self.step_seconds.get(step, 0.0)
                                       + time.perf_counter() - started)

    def to_json(self) -> dict:
        return {
            "lines": self.lines,
            "imported": self.imported,
            "pageviews": self.pageviews,
            "bots": self.bots,
            "static": self.static,
            "malformed": self.malformed,
            "malformed_lines": self.malformed_lines,
            "dropped": self.dropped,
            "events": self.by_type,
            "formats": self.formats,
            "skipped_files": self.skipped_files,
            "errors": self.errors[:20],
            "seconds": round(self.seconds, 3),
            "step_seconds": {k: round(v, 3) for k, v in self.step_seconds.items()},
        }
