"""Local time in the engine without a time-zone library call per row.

Converting millions of UTC time stamps with ICU is slow; a site has one time zone, whose
offset changes only a few times a year and only on full hours. `offsets_table` lists the
UTC offset of every hour in a range; joining on the hour and adding the offset gives the
local time (exact for every zone whose transitions fall on full UTC hours, as all
European ones do)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa

MAX_HOURS = 24 * 366 * 30  # a generous bound: 30 years of hours


def offsets_table(tz: str, lo: datetime, hi: datetime) -> pa.Table:
    """(utc_hour, offset_s) for every UTC hour from lo to hi (naive UTC, inclusive)."""
    zone = ZoneInfo(tz)
    start = lo.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    end = hi.replace(tzinfo=None)
    hours = min(int((end - start).total_seconds() // 3600) + 2, MAX_HOURS)
    utc_hours, offsets = [], []
    offset = None
    for i in range(hours):
        t = start + timedelta(hours=i)
        # utcoffset only changes at transitions; checking each hour keeps this simple
        offset = int(t.replace(tzinfo=UTC).astimezone(zone).utcoffset().total_seconds())
        utc_hours.append(t)
        offsets.append(offset)
    return pa.table({
        "utc_hour": pa.array(utc_hours, pa.timestamp("us")),
        "offset_s": pa.array(offsets, pa.int32()),
    })


def sql_local(ts_expr: str, offsets_alias: str = "tzo") -> str:
    """Local time for `ts_expr` (naive UTC) given a joined offsets table."""
    return f"({ts_expr} + to_seconds({offsets_alias}.offset_s))"


def sql_join(ts_expr: str, offsets_table_name: str = "tz_offsets",
             alias: str = "tzo") -> str:
    return (f"LEFT JOIN {offsets_table_name} {alias} "
            f"ON date_trunc('hour', {ts_expr}) = {alias}.utc_hour")


def local_days(tz: str, lo: datetime, hi: datetime) -> list:
    """Every local date that a naive-UTC range [lo, hi] touches."""
    zone = ZoneInfo(tz)
    first = lo.replace(tzinfo=UTC).astimezone(zone).date()
    last = hi.replace(tzinfo=UTC).astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
