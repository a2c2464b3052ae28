"""`GET /api/v1/alerts`: early-warning alerts with their delivery state,
`POST /api/v1/alerts/{id}/acknowledge` (role analyst); the watch loop
runs in the server's lifespan (detection every `interval_seconds`, deliveries due every
few seconds) unless `[warning] watch_in_serve = false`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request

from amtspuls.analyze.detect.config import load_warning_config
from amtspuls.errors import UserError
from amtspuls.serve.alerts import Watcher, alerts_with_deliveries, with_deliveries
from amtspuls.serve.auth import client_network, principal_of
from amtspuls.store import signals as sq
from amtspuls.store import users as us
from amtspuls.store.alert_status import set_alert_status

log = logging.getLogger("amtspuls.alerts")
router = APIRouter(prefix="/api/v1", tags=["alerts"])
DELIVERY_TICK_SECONDS = 5.0


@router.get("/alerts")
def list_alerts(
    request: Request,
    site: str | None = Query(None, description="Site domain (all sites if omitted)"),
    status: str | None = Query(None, pattern="^(open|acknowledged|closed)$"),
    since: datetime | None = Query(None, description="Alerts that ended at or after (UTC)"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    store = request.app.state.store
    the_site = None
    if site is not None:
        the_site = store.get_site(site)
        if the_site is None:
            raise HTTPException(404, f"unknown site {site!r}")
    if since is not None and since.tzinfo is not None:
        since = since.astimezone(tz=None).replace(tzinfo=None)
    return alerts_with_deliveries(store, the_site, status, since, limit)


@router.get("/alerts/status")
def watch_status(request: Request) -> dict[str, Any]:
    """Whether the watch loop runs, its rounds, channels and per-site progress."""
    watcher: Watcher | None = getattr(request.app.state, "watcher", None)
    if watcher is None:
        return {"running": False}
    return {"running": True, **watcher.stats,
            "channels": [c.target for c in watcher.channels],
            "sites": {s.site.domain: s.last_round for s in watcher.streams.values()}}


@router.get("/alerts/{alert_id}")
def get_alert(request: Request, alert_id: int) -> dict[str, Any]:
    store = request.app.state.store
    row = sq.get_alert(store, alert_id)
    if row is None:
        raise HTTPException(404, f"no alert {alert_id}")
    return with_deliveries(store, [row])[0]


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_alert(
    request: Request, alert_id: int,
    site: str | None = Query(None, description="Site domain of the alert (a role for that "
                                              "site suffices; without it, one for all sites)"),
) -> dict[str, Any]:
    """Acknowledge an alert (role analyst): it stays acknowledged while it lasts and is
    closed when the detector reports its end."""
    store = request.app.state.store
    site_id = None
    if site is not None:
        the_site = store.get_site(site)
        if the_site is None:
            raise HTTPException(404, f"unknown site {site!r}")
        site_id = the_site.id
    principal = principal_of(request)
    actor = principal.name if principal else None
    try:
        row = set_alert_status(store, alert_id, "acknowledge", actor, site_id=site_id)
    except UserError as exc:
        us.audit(store, "alert.acknowledge", False, actor, str(alert_id), site_id,
                 client_network(request.client.host if request.client else None))
        raise HTTPException(404 if str(exc).startswith("no alert") else 409,
                            str(exc)) from None
    us.audit(store, "alert.acknowledge", True, actor, str(alert_id), int(row["site_id"]),
             client_network(request.client.host if request.client else None))
    return with_deliveries(store, [row])[0]


async def _loop(app: FastAPI, watcher: Watcher, interval: float) -> None:
    loop = asyncio.get_running_loop()
    next_round = loop.time() + min(interval, 60.0)
    while True:
        try:
            if loop.time() >= next_round:
                await asyncio.to_thread(watcher.round)
                next_round = loop.time() + interval
            else:
                await asyncio.to_thread(watcher.deliver_due)
        except Exception:  # keep serving; the next round tries again
            log.exception("watch round failed")
        await asyncio.sleep(min(DELIVERY_TICK_SECONDS, interval))


async def startup(app: FastAPI) -> None:
    settings = app.state.settings
    wcfg = load_warning_config(settings)
    if not wcfg.watch_in_serve or os.environ.get("AMTSPULS_WATCH", "1") == "0":
        return
    watcher = Watcher(settings, app.state.store, wcfg)
    app.state.watcher = watcher
    app.state.watch_task = asyncio.create_task(_loop(app, watcher, wcfg.interval_seconds))


async def shutdown(app: FastAPI) -> None:
    task = getattr(app.state, "watch_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    watcher = getattr(app.state, "watcher", None)
    if watcher is not None:
        await asyncio.to_thread(watcher.close)
