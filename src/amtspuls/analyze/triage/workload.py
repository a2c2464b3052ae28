"""Workload: open requests per department, their age, the service-level target of each
(working days: weekends and the Bundesland's public holidays do not count), and the
overdue list."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from amtspuls.analyze.triage.config import TriageConfig


@lru_cache(maxsize=16)
def _holidays(bundesland: str, year: int) -> frozenset[date]:
    import holidays

    try:
        cal = holidays.country_holidays("DE", subdiv=bundesland or None, years=year)
    except NotImplementedError:
        cal = holidays.country_holidays("DE", years=year)
    return frozenset(cal.keys())


def is_working_day(d: date, bundesland: str) -> bool:
    return d.weekday() < 5 and d not in _holidays(bundesland, d.year)


def add_working_days(start: date, n: int, bundesland: str) -> date:
    d = start
    left = n
    while left > 0:
        d += timedelta(days=1)
        if is_working_day(d, bundesland):
            left -= 1
    return d


def working_days_between(a: date, b: date, bundesland: str) -> int:
    """Working days after `a` up to and including `b` (0 when b <= a)."""
    n = 0
    d = a
    while d < b:
        d += timedelta(days=1)
        if is_working_day(d, bundesland):
            n += 1
    return n


def sla_days(cfg: TriageConfig, service_id: str, priority: int | None) -> int:
    svc = cfg.services.get(service_id)
    days = svc.sla_days if svc else int(cfg.sla.get("default_days", 10))
    if priority is not None:
        cap = cfg.sla.get("priority_days", {}).get(str(priority))
        if cap is not None:
            days = min(days, int(cap))
    return days


def due_date(cfg: TriageConfig, requested_utc: datetime, days: int, tz: str,
             bundesland: str | None = None) -> datetime:
    """End (UTC, naive) of the target: the reported local day + `days` working days."""
    zone = ZoneInfo(tz)
    local = requested_utc.replace(tzinfo=UTC).astimezone(zone).date()
    land = bundesland or str(cfg.sla.get("bundesland", ""))
    end_day = add_working_days(local, days, land)
    end = datetime.combine(end_day + timedelta(days=1), time(0), tzinfo=zone)
    return end.astimezone(UTC).replace(tzinfo=None)


def workload(cfg: TriageConfig, requests: list[dict[str, Any]], triage: dict[str, dict],
             tz: str, as_of: datetime, bundesland: str | None = None) -> dict[str, Any]:
    """`requests`: open requests (service_request_id, service_id, requested_datetime,
    agency_responsible); `triage`: stored suggestions by id."""
    land = bundesland or str(cfg.sla.get("bundesland", ""))
    zone = ZoneInfo(tz)
    today = as_of.replace(tzinfo=UTC).astimezone(zone).date()
    per: dict[str, dict[str, Any]] = {}
    overdue = []
    for r in requests:
        rid = r["service_request_id"]
        t = triage.get(rid, {})
        prio = t.get("priority")
        service = r.get("service_id") or "none"
        dept = r.get("agency_responsible") or cfg.department(service) or "unbekannt"
        days = sla_days(cfg, service, prio)
        due = due_date(cfg, r["requested_datetime"], days, tz, land)
        local_req = r["requested_datetime"].replace(tzinfo=UTC).astimezone(zone).date()
        age_days = (as_of - r["requested_datetime"]).total_seconds() / 86400.0
        age_work = working_days_between(local_req, today, land)
        d = per.setdefault(dept, {"department": dept, "open": 0, "overdue": 0, "ages": [],
                                  "by_priority": {}})
        d["open"] += 1
        d["ages"].append(age_days)
        if prio is not None:
            d["by_priority"][str(prio)] = d["by_priority"].get(str(prio), 0) + 1
        if due < as_of:
            d["overdue"] += 1
            overdue.append({
                "service_request_id": rid, "service_id": service, "department": dept,
                "priority": prio, "requested_datetime": r["requested_datetime"].isoformat(),
                "due": due.isoformat(), "sla_working_days": days,
                "age_days": round(age_days, 1), "age_working_days": age_work,
                "working_days_overdue": max(0, age_work - days),
            })
    departments = []
    for d in sorted(per.values(), key=lambda v: (-v["open"], v["department"])):
        ages = d.pop("ages")
        d["median_age_days"] = round(median(ages), 1) if ages else 0.0
        d["max_age_days"] = round(max(ages), 1) if ages else 0.0
        departments.append(d)
    overdue.sort(key=lambda o: (o["priority"] or 9, -o["working_days_overdue"],
                                o["requested_datetime"]))
    return {"as_of": as_of.isoformat(), "bundesland": land, "open": len(requests),
            "overdue": len(overdue), "departments": departments, "overdue_requests": overdue}
