"""The contract every log format fulfils."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from amtspuls.collect.logs.reader import LineBatch
from amtspuls.model import HIT_SCHEMA


@dataclass
class ParsedBatch:
    hits: pa.Table  # HIT_SCHEMA, one row per parsed request line
    malformed: list[int] = field(default_factory=list)  # line numbers
    # Lines that are valid but carry no request (headers, blank lines, status lines):
    # counted as imported and dropped with this reason.
    skipped: dict[str, int] = field(default_factory=dict)


class LogFormat(ABC):
    """One instance per file: formats with headers (W3C) keep state between batches."""

    name: str = ""
    priority: int = 0

    @abstractmethod
    def match_rate(self, sample: list[str]) -> float:
        """Share of the sample's non-blank lines this format can parse (0…1)."""

    @abstractmethod
    def parse(self, batch: LineBatch, engine: duckdb.DuckDBPyConnection) -> ParsedBatch:
        """Parse one batch. Lines in `batch.too_long` must be reported malformed."""


def hits_from_columns(columns: dict[str, list]) -> pa.Table:
    """Build a HIT_SCHEMA table from Python column lists (missing columns are null)."""
    n = len(next(iter(columns.values()))) if columns else 0
    arrays = []
    for f in HIT_SCHEMA:
        values = columns.get(f.name)
        arrays.append(pa.array(values if values is not None else [None] * n, type=f.type))
    return pa.Table.from_arrays(arrays, schema=HIT_SCHEMA)


def non_blank(sample: list[str]) -> list[str]:
    return [ln for ln in sample if ln.strip()]
