"""`/api/v1/recommendations`: ranked Handlungsempfehlungen with their evidence, their
lifecycle (role analyst for changes, checked by the access middleware) and the proof of
the completed ones.

Reading returns what the last run stored; the first read of a site that never had a run
computes one. `POST …/refresh` runs the rules again (several seconds on large sites)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from amtspuls.errors import UserError
from amtspuls.recommend import engine
from amtspuls.serve.auth import client_network, principal_of
from amtspuls.store import recommendations as rq
from amtspuls.store import users as us

router = APIRouter(prefix="/api/v1", tags=["recommendations"])
_RUNS: dict[int, asyncio.Lock] = {}


class StatusChange(BaseModel):
    status: str = Field(pattern="^(open|accepted|done|dismissed)$")
    reason: str | None = Field(None, max_length=500)
    effective: date | None = Field(None, description="Day the change went live (done)")


def _site(request: Request, domain: str):
    store = request.app.state.store
    try:
        site = store.get_site(domain)
    except UserError as exc:
        raise HTTPException(400, str(exc)) from None
    if site is None:
        raise HTTPException(404, f"unknown site {domain!r}")
    return store, site


async def _run(request: Request, store, site) -> None:
    lock = _RUNS.setdefault(site.id, asyncio.Lock())
    async with lock:  # one run per site at a time; a second request waits for it
        await asyncio.to_thread(engine.run, store, site, request.app.state.settings)


@router.get("/recommendations")
async def list_recommendations(
    request: Request,
    site: str = Query(..., description="Site domain"),
    status: str | None = Query(None, pattern="^(open|accepted|done|dismissed)$"),
    service: str | None = Query(None, max_length=100),
    limit: int | None = Query(None, ge=1, le=1000),
) -> list[dict[str, Any]]:
    store, the_site = _site(request, site)
    if not rq.list_all(store, the_site.id):
        await _run(request, store, the_site)
    return engine.list_recommendations(store, the_site, status, limit, service)


@router.post("/recommendations/refresh")
async def refresh(request: Request, site: str = Query(...)) -> list[dict[str, Any]]:
    store, the_site = _site(request, site)
    await _run(request, store, the_site)
    _audit(request, "recommendations.refresh", True, None, the_site.id)
    return engine.list_recommendations(store, the_site)


@router.get("/recommendations/{rec_id}")
def get_recommendation(request: Request, rec_id: str, site: str = Query(...)
                       ) -> dict[str, Any]:
    store, the_site = _site(request, site)
    try:
        return engine.get_recommendation(store, the_site, rec_id)
    except UserError as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/recommendations/{rec_id}/status")
def change_status(request: Request, rec_id: str, change: StatusChange,
                  site: str = Query(...)) -> dict[str, Any]:
    store, the_site = _site(request, site)
    principal = principal_of(request)
    actor = principal.name if principal else None
    if rq.get(store, the_site.id, rec_id) is None:
        raise HTTPException(404, f"no recommendation {rec_id!r} for {the_site.domain}")
    try:
        out = engine.set_status(store, the_site, rec_id, change.status, actor, change.reason,
                                change.effective)
    except UserError as exc:
        _audit(request, f"recommendation.{change.status}", False, rec_id, the_site.id)
        raise HTTPException(409, str(exc)) from None
    _audit(request, f"recommendation.{change.status}", True, rec_id, the_site.id)
    return out


def _audit(request: Request, action: str, ok: bool, target: str | None, site_id: int) -> None:
    principal = principal_of(request)
    us.audit(request.app.state.store, action, ok, principal.name if principal else None,
             target, site_id, client_network(request.client.host if request.client else None))
