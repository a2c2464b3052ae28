"""The in-memory processing engine (DuckDB) that batches flow through.

Separate from the store on purpose: raw input (IPs, user agents) exists only here,
in memory; spilling to disk is switched off so that nothing personal can reach a
temporary file. Only the anonymised result is handed to the store.
"""

from __future__ import annotations

import duckdb

from amtspuls.config import Settings


def new_engine(settings: Settings | None = None,
               threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    if threads is None:
        threads = settings.engine_threads if settings else 2
    memory = settings.engine_memory_limit if settings else "2GB"
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET memory_limit = '{memory}'")
    con.execute("SET temp_directory = ''")  # never spill raw input to disk
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con
