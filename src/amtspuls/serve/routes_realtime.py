"""`GET /api/v1/realtime?site=DOMAIN`: visitors of the last 5 and 30 minutes, the pages
and searches of the last 30 minutes (rows of fewer than k visitors folded)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Query, Request

from amtspuls.privacy.kanon import fold_rows
from amtspuls.store.realtime import recent_activity

router = APIRouter(prefix="/api/v1", tags=["realtime"])

TOP = 10


@router.get("/realtime")
def realtime(request: Request, site: str = Query(..., description="Site domain")) -> dict:
    """Updated within about a second of an event arriving at a tracking endpoint."""
    live = getattr(request.app.state, "live", None)
    the_site = live.sites.get(site) if live is not None else None
    if the_site is None:
        the_site = request.app.state.store.get_site(site) if site.strip() else None
    if the_site is None:
        raise HTTPException(404, f"unknown site {site[:100]!r}")
    k = request.app.state.settings.k_anonymity
    now = datetime.now(UTC).replace(tzinfo=None)
    data = recent_activity(request.app.state.store, the_site.id, now)
    return {
        "visitors_5min": data["visitors_5min"],
        "visitors_30min": data["visitors_30min"],
        "top_pages": _top(fold_rows(data["pages"], k, "path", ("pageviews",)), "path"),
        "top_searches": _top(fold_rows(data["searches"], k, "query", ("searches",)), "query"),
    }


def _top(rows: list[dict], label: str) -> list[dict]:
    """The first TOP rows, with the remainder row (if any) kept last."""
    named = [r for r in rows if "folded_rows" not in r]
    rest = [r for r in rows if "folded_rows" in r]
    return named[:TOP] + rest
