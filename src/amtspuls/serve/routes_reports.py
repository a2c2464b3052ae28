"""`GET /api/v1/reports/{name}`: the base reports, as the CLI prints them with --json."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from amtspuls.analyze.reports import REPORTS, run_report

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get("/reports/{name}")
def report(
    request: Request,
    name: str,
    site: str = Query(..., description="Site domain"),
    date_from: date | None = Query(None, alias="from"),
    date_to: date | None = Query(None, alias="to"),
    interval: str = Query("day", pattern="^(hour|day|week)$"),
    limit: int = Query(100, ge=1, le=10000),
    service: str | None = Query(None, description="Service id (report journeys)"),
) -> Any:
    if name not in REPORTS:
        raise HTTPException(404, f"unknown report {name!r}; known: {', '.join(REPORTS)}")
    store = request.app.state.store
    the_site = store.get_site(site)
    if the_site is None:
        raise HTTPException(404, f"unknown site {site!r}")
    return run_report(store, the_site, name, date_from, date_to, interval,
                      request.app.state.settings.k_anonymity, limit, service=service)


@router.get("/sites")
def sites(request: Request) -> list[dict]:
    return [{"id": s.id, "domain": s.domain, "timezone": s.timezone}
            for s in request.app.state.store.list_sites()]
