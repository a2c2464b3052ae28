"""Service mapping at ingest: which public service (Leistung) a page belongs to."""

from __future__ import annotations

from amtspuls.catalog import service_for_path


def map_paths(paths: list[str]) -> list[str]:
    """Service id per path (`none` where no service fits), by the catalogue's URL rules."""
    return [service_for_path(p or "/") for p in paths]
