"""The base web-analytics reports, with date ranges in the site's time zone and
k-anonymity applied. Shared by the CLI and the REST API."""

from __future__ import annotations

import importlib
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from amtspuls.errors import UserError
from amtspuls.model import Site
from amtspuls.privacy.kanon import fold_rows
from amtspuls.store import DuckDBStore
from amtspuls.store.reports import INTERVALS, ReportQueries, last_day

BASE_REPORTS = ("overview", "pages", "entry-pages", "exit-pages", "referrers", "devices",
                "not-found", "downloads", "timeseries", "traffic")
# Reports that other analysis modules provide, as "module:function". The function takes
# (store, site, lo, hi, date_from, date_to, *, k, limit, service) and returns JSON-ready data.
EXTRA_REPORTS: dict[str, str] = {
    "search": "amtspuls.analyze.search:search_report",
    "services": "amtspuls.analyze.journeys:services_report",
    "journeys": "amtspuls.analyze.journeys:journeys_report",
    "forms": "amtspuls.analyze.journeys:forms_report",
    "frustration": "amtspuls.analyze.journeys:frustration_report",
}
REPORTS = BASE_REPORTS + tuple(EXTRA_REPORTS)
DEFAULT_DAYS = 30


def local_range(site: Site, date_from: date | None, date_to: date | None,
                store: DuckDBStore) -> tuple[date, date]:
    """[from, to] as local dates; by default the last 30 days up to the last day with data."""
    if date_to is None:
        date_to = last_day(store, site) or datetime.now(ZoneInfo(site.timezone)).date()
    if date_from is None:
        date_from = date_to - timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        raise UserError(f"--from {date_from} is after --to {date_to}")
    return date_from, date_to


def utc_window(site: Site, date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """[lo, hi) in naive UTC for the local dates [from, to] (for queries on raw events)."""
    tz = ZoneInfo(site.timezone)
    lo = datetime.combine(date_from, time.min, tz).astimezone(ZoneInfo("UTC"))
    hi = datetime.combine(date_to + timedelta(days=1), time.min, tz).astimezone(ZoneInfo("UTC"))
    return lo.replace(tzinfo=None), hi.replace(tzinfo=None)


def run_report(store: DuckDBStore, site: Site, name: str, date_from: date | None = None,
               date_to: date | None = None, interval: str = "day", k: int = 5,
               limit: int = 100, service: str | None = None) -> Any:
    if name not in REPORTS:
        raise UserError(f"unknown report {name!r}; known: {', '.join(REPORTS)}")
    if interval not in INTERVALS:
        raise UserError(f"--interval must be one of {', '.join(INTERVALS)}")
    if limit < 1:
        raise UserError("--limit must be at least 1")
    day_from, day_to = local_range(site, date_from, date_to, store)
    if name in EXTRA_REPORTS:
        lo, hi = utc_window(site, day_from, day_to)
        module, func = EXTRA_REPORTS[name].split(":")
        report = getattr(importlib.import_module(module), func)
        return report(store, site, lo, hi, day_from, day_to, k=k, limit=limit, service=service)
    q = ReportQueries(store, site, day_from, day_to, limit)
    if name == "overview":
        return q.overview()
    if name == "pages":
        return fold_rows(q.pages(), k, "path", ("pageviews",))
    if name == "entry-pages":
        return fold_rows(q.entry_pages(), k, "path", ("entries",))
    if name == "exit-pages":
        return fold_rows(q.exit_pages(), k, "path", ("exits",))
    if name == "referrers":
        return fold_rows(q.referrers(), k, "source", ("visits",))
    if name == "devices":
        return {key: fold_rows(rows, k, "name", ("visits",)) for key, rows in q.devices().items()}
    if name == "not-found":
        return fold_rows(q.not_found(), k, "path", ("hits", "internal_hits"))
    if name == "downloads":
        return fold_rows(q.downloads(), k, "target", ("downloads",))
    if name == "timeseries":
        return q.timeseries(interval)
    return q.traffic()
