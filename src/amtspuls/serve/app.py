"""The HTTP application: one FastAPI app over one store.

Routers are added by their own modules (`api_reports`, and later tracking, dashboard);
errors are always a 4xx with a reason, never a traceback."""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from amtspuls import __version__
from amtspuls.config import Settings
from amtspuls.errors import UserError
from amtspuls.retention import apply_retention
from amtspuls.store import DuckDBStore, open_store

log = logging.getLogger("amtspuls.serve")


HOUSEKEEPING_SECONDS = 24 * 3600


async def _housekeeping(app: FastAPI) -> None:
    """Daily while serving: retention (raw events, old salts), stale daily aggregates."""
    while True:
        try:
            await asyncio.to_thread(_housekeep_once, app.state.settings, app.state.store)
        except Exception:  # keep serving; the next round tries again
            log.exception("housekeeping failed")
        await asyncio.sleep(HOUSEKEEPING_SECONDS)


def _housekeep_once(settings: Settings, store: DuckDBStore) -> None:
    result = apply_retention(settings, store)
    log.info("retention: %s", result)


def create_app(settings: Settings, store: DuckDBStore | None = None) -> FastAPI:
    own_store = store is None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.store = store or open_store(settings)
        app.state.settings = settings
        housekeeping = asyncio.create_task(_housekeeping(app))
        for hook in _hooks("startup"):
            await hook(app)
        try:
            yield
        finally:
            for hook in reversed(_hooks("shutdown")):
                await hook(app)
            housekeeping.cancel()
            if own_store:
                app.state.store.close()

    app = FastAPI(
        title="amtspuls",
        version=__version__,
        description="Datenschutzfreundliche Analyse kommunaler Websites – REST-API",
        # FastAPI's /docs and /redoc pages load their scripts from a CDN: a third-party
        # request amtspuls never makes. The schema stays at /openapi.json.
        docs_url=None, redoc_url=None,
        lifespan=lifespan,
    )

    @app.exception_handler(UserError)
    async def user_error(_: Request, exc: UserError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid input')}"},
                            status_code=400)

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse({"error": "internal error"}, status_code=500)

    @app.get("/api/v1/health", tags=["meta"])
    def health() -> dict:
        return {"status": "ok", "version": __version__}

    for router in discover_routers():
        app.include_router(router)
    # `configure(app)` of a routes module adds middleware (access control, security headers).
    for configure in _hooks("configure"):
        configure(app)
    return app


def discover_routers() -> list:
    """Every `serve/routes_*.py` module contributes its `router` (and may define
    `startup(app)` / `shutdown(app)` hooks run in the app's lifespan)."""
    import amtspuls.serve as package

    routers = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("routes_"):
            module = importlib.import_module(f"amtspuls.serve.{info.name}")
            routers.append(module.router)
    return routers


def _hooks(name: str) -> list:
    import amtspuls.serve as package

    hooks = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("routes_"):
            module = importlib.import_module(f"amtspuls.serve.{info.name}")
            if hasattr(module, name):
                hooks.append(getattr(module, name))
    return hooks
