"""Review API for service requests (clerks): the request with its raw text, the triage
suggestion, confirming or correcting it, the audit log; model card and workload.

Raw texts, contact data, reviews and the log need a clerk: a dashboard user (login session
or API token, `Authorization: Bearer`) with the role analyst or admin for the request's
site, or — for systems without dashboard users — an API key of role `clerk`
(`amtspuls requests api-key add NAME --role clerk`), sent as `X-API-Key`. A viewer sees
the scrubbed text only. Every answer with a raw text is written to the audit log
(`amtspuls.store.users.audit`, action `request.raw_text`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from amtspuls.analyze.triage.config import config_for
from amtspuls.analyze.triage.engine import public_view, record_review
from amtspuls.model import Site
from amtspuls.serve.auth import client_network, principal_of
from amtspuls.store import users as us
from amtspuls.store.requests_store import RequestStore

# The least dashboard role that may read raw texts and review suggestions.
CLERK_ROLE = "analyst"

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


def _clerk(request: Request, site: Site) -> dict:
    """Who may act as a clerk for the site: a dashboard user (session or API token) with
    at least the role analyst for it, else an API key of role clerk. 403 otherwise."""
    principal = principal_of(request)
    if principal is not None and principal.can(CLERK_ROLE, site.id):
        return {"name": principal.name, "via": principal.via}
    key = request.headers.get("x-api-key")
    if key:
        who = RequestStore(request.app.state.store).check_api_key(key)
        if who is not None and who["role"] == "clerk":
            return {"name": who["name"], "via": "clerk_key"}
    if principal is not None:
        raise HTTPException(403, f"user {principal.name!r} lacks the role {CLERK_ROLE!r} "
                                 f"for site {site.domain!r}")
    raise HTTPException(403, "a user of role analyst (Authorization: Bearer) or an API key "
                             "of role clerk (X-API-Key) is required")


def _may_see_raw(request: Request, site: Site) -> dict | None:
    """The clerk asking, or None for a reader of the scrubbed text. An X-API-Key that is
    not a clerk key is refused (403), as is a key sent together with a viewer's login."""
    principal = principal_of(request)
    if principal is not None and principal.can(CLERK_ROLE, site.id):
        return _clerk(request, site)
    if request.headers.get("x-api-key"):
        return _clerk(request, site)
    return None


def _audit_raw(request: Request, site: Site, request_id: str, who: dict) -> None:
    us.audit(request.app.state.store, "request.raw_text", actor=who["name"],
             target=request_id, site_id=site.id,
             client=client_network(request.client.host if request.client else None),
             detail={"via": who["via"]})


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
    """One request with its triage; for a clerk (analyst or admin of the site, or a clerk
    key) also the raw text and contact data — each such answer is audit-logged."""
    s = _site(request, site)
    who = _may_see_raw(request, s)
    rs = RequestStore(request.app.state.store)
    r = rs.get_request(s.id, request_id, raw=who is not None)
    if r is None:
        raise HTTPException(404, f"unknown request {request_id!r}")
    if who is not None:
        _audit_raw(request, s, request_id, who)
    return _view(r, rs.triage_of(s.id, [request_id]).get(request_id))


@router.post("/requests/{request_id}/review")
def review(request: Request, request_id: str, body: Review,
           site: str | None = Query(None)) -> dict:
    """Confirm or correct the suggestion; used at the next training."""
    s = _site(request, site)
    who = _clerk(request, s)
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
    s = _site(request, site)
    _clerk(request, s)
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
