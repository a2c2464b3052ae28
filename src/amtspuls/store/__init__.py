"""The analytics store. All SQL that touches stored data lives in this package, so a
second backend (ClickHouse) can be added by implementing `Store` again."""

from __future__ import annotations

from amtspuls.config import Settings
from amtspuls.store.duckdb_store import DuckDBStore

Store = DuckDBStore


def open_store(settings: Settings, read_only: bool = False) -> DuckDBStore:
    return DuckDBStore(settings, read_only=read_only)


__all__ = ["Store", "open_store", "DuckDBStore"]
