"""`GET /api/v1/map-query`, `POST /api/v1/map-queries`, `GET /api/v1/topics`: citizen
needs, as the CLI prints them with --json. The needs reports (search, services, journeys,
forms, frustration) are served by `/api/v1/reports/{name}`."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query, Request

router = APIRouter(prefix="/api/v1", tags=["needs"])

MAX_BATCH = 10_000


def _site(request: Request, site: str | None):
    if site is None:
        return None
    found = request.app.state.store.get_site(site)
    if found is None:
        raise HTTPException(404, f"unknown site {site!r}")
    return found


def _mapper(request: Request, site: str | None):
    from amtspuls.analyze.search import site_mapper

    return site_mapper(request.app.state.store, _site(request, site))


@router.get("/map-query")
def map_query(
    request: Request,
    q: str = Query(..., min_length=1, max_length=300, description="Search query"),
    site: str | None = Query(None, description="Site domain (its catalogue and behaviour)"),
) -> dict[str, Any]:
    return _mapper(request, site).map(q)


@router.post("/map-queries")
def map_queries(
    request: Request,
    queries: list[str] = Body(..., embed=True, max_length=MAX_BATCH),
    site: str | None = Query(None, description="Site domain"),
) -> list[dict[str, Any]]:
    return _mapper(request, site).map_many(str(x)[:300] for x in queries)


@router.get("/topics")
def topics(
    request: Request,
    site: str = Query(..., description="Site domain"),
    date_from: date | None = Query(None, alias="from"),
    date_to: date | None = Query(None, alias="to"),
    limit: int = Query(50, ge=1, le=1000),
    n_topics: int | None = Query(None, alias="topics", ge=1, le=500),
    semantic: str = Query("auto", pattern="^(auto|on|off)$"),
) -> dict[str, Any]:
    from amtspuls.analyze.reports import local_range, utc_window
    from amtspuls.analyze.topics import topics_report

    store = request.app.state.store
    the_site = _site(request, site)
    d_from, d_to = local_range(the_site, date_from, date_to, store)
    lo, hi = utc_window(the_site, d_from, d_to)
    return topics_report(store, the_site, lo, hi, d_from, d_to,
                         request.app.state.settings.k_anonymity, limit,
                         {"auto": None, "on": True, "off": False}[semantic], n_topics)
