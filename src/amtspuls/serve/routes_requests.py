"""Review API for service requests (clerks): the request with its raw text, the triage
suggestion, confirming or correcting it, the audit log; model card and workload.

Raw texts, contact data, reviews and the log need an API key of role `clerk`
(`amtspuls requests api-key add NAME --role clerk`), sent as `X-API-Key`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from amtspuls.analyze.triage.config import config_for
from amtspuls.analyze.triage.engine import public_view, record_review
from amtspuls.model import Site
from amtspuls.store.requests_store import RequestStore

router = APIRouter(prefix="/api/v1", tags=["requests"])


class Review(BaseModel):
    decision: str = Field(..., pattern="^(confirm|correct)$")
    service_id: str | None = Field(None, max_length=100)
    priority: int | None = Field(None, ge=1, le=4)
    duplicate_of: str | None = Field(None, max_length=100)
    reviewer: str | None = Field(None, max_length=200)
    note: str | None = Field(None, max_length=5000)


def _site(request: Request, domain: str | None) -> Site:
    store = request.app.state.store
    if domain:
        site = store.get_site(domain)
        if site is None:
            raise HTTPException(404, f"unknown site {domain!r}")
        return site
    sites = store.list_sites()
    if not sites:
        raise HTTPException(404, "no site yet")
    return sites[0]


def _clerk(request: Request) -> dict:
    key = request.headers.get("x-api-key")
    who = RequestStore(request.app.state.store).check_api_key(key)
    if who is None or who["role"] != "clerk":
        raise HTTPException(403, "an API key of role clerk is required (X-API-Key)")
    return who


def _view(r: dict[str, Any], tri: dict | None) -> dict[str, Any]:
    out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
    out["triage"] = public_view(tri) if tri else None
    return out


@router.get("/requests")
def list_requests(request: Request, site: str | None = Query(None),
                  status: str | None = Query(None, pattern="^(open|closed)$"),
                  limit: int = Query(100, ge=1, le=10000)) -> list[dict]:
    """Requests (scrubbed text) with their triage, newest first."""
    s = _site(request, site)
    rs = RequestStore(request.app.state.store)
    rows = rs.list_requests(s.id, statuses=[status] if status else None, limit=limit)
    tri = rs.triage_of(s.id, [r["service_request_id"] for r in rows]) if rows else {}
    return [_view(r, tri.get(r["service_request_id"])) for r in rows]


@router.get("/requests/{request_id}")
def get_request(request: Request, request_id: str, site: str | None = Query(None)) -> dict:
    """One request with its triage; with a clerk key also the raw text and contact data."""
    s = _site(request, site)
    raw = False
    if request.headers.get("x-api-key"):
        _clerk(request)
        raw = True
    rs = RequestStore(request.app.state.store)
    r = rs.get_request(s.id, request_id, raw=raw)
    if r is None:
        raise HTTPException(404, f"unknown request {request_id!r}")
    return _view(r, rs.triage_of(s.id, [request_id]).get(request_id))


@router.post("/requests/{request_id}/review")
def review(request: Request, request_id: str, body: Review,
           site: str | None = Query(None)) -> dict:
    """Confirm or correct the suggestion; used at the next training."""
    who = _clerk(request)
    s = _site(request, site)
    try:
        return record_review(request.app.state.store, s, request_id, body.decision,
                             service_id=body.service_id, priority=body.priority,
                             duplicate_of=body.duplicate_of,
                             reviewer=body.reviewer or who["name"], note=body.note,
                             settings=request.app.state.settings)
    except LookupError:
        raise HTTPException(404, f"unknown request {request_id!r}") from None


@router.get("/requests/{request_id}/log")
def log(request: Request, request_id: str, site: str | None = Query(None)) -> list[dict]:
    """Every logged suggestion for the request, with inputs and model version."""
    _clerk(request)
    s = _site(request, site)
    return RequestStore(request.app.state.store).log_entries(s.id, request_id)


@router.get("/triage/model-card")
def model_card(request: Request, site: str | None = Query(None)) -> dict:
    from amtspuls.analyze.triage.training import model_card as card

    s = _site(request, site)
    return card(request.app.state.store, s, request.app.state.settings)


@router.get("/triage/workload")
def workload(request: Request, site: str | None = Query(None)) -> dict:
    from amtspuls.analyze.triage.workload import workload as wl

    s = _site(request, site)
    rs = RequestStore(request.app.state.store)
    rows = rs.list_requests(s.id, statuses=["open"])
    return wl(config_for(request.app.state.settings), rows, rs.triage_of(s.id), s.timezone,
              datetime.now(UTC).replace(tzinfo=None))
