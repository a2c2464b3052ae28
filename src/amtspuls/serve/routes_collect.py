"""Live tracking endpoints: Matomo's tracking API, Plausible's Events API, amtspuls's
own tracker (`/api/collect`, script at `/js/amtspuls.js`).

The endpoints are documented in the OpenAPI schema like every other route, but served
lean, because this is the hot path: a handler reads the ASGI scope and body itself and
returns (status, headers, body), and `CollectFastPath`, put in front of the app's
middleware stack at startup, calls it directly for these paths. Every request is answered
with 2xx only after its events are in the write-ahead log on disk (`serve/live.py`);
bad input gets a 4xx with `{"error": "…"}`, never a 5xx (a 503 only when the disk fails
or the ingest is far behind: the client may retry).

Decisions (see docs/tracking.md):
* An unknown `idsite`, Plausible `domain` or collect `site` is a 400 with the reason
  (Plausible itself answers 202 and drops the event; a clear error helps setting up).
* Matomo's `cip` and `cdt` are honoured only with `token_auth` equal to the configured
  `tracking_token` (as Matomo requires a token for them); `ua` and `lang` need none.
* `X-Forwarded-For` is read only from a configured trusted proxy.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from amtspuls.collect.events import BadEvent
from amtspuls.collect.snippet import TRACKER_PATH, tracker_bytes
from amtspuls.collect.tracking import (
    Tracked,
    matomo_bulk,
    matomo_params,
    parse_collect,
    parse_matomo,
    parse_plausible,
)
from amtspuls.collect.wal import WalError
from amtspuls.serve.live import Backlog, LiveCollector, now_utc

log = logging.getLogger("amtspuls.collect")

MAX_BODY = 64 * 1024
# A transparent 1×1 GIF, as Matomo answers image requests.
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
       b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


Headers = list[tuple[bytes, bytes]]
Reply = tuple[int, Headers, bytes]  # status, headers (without length), body

CORS_H: Headers = [(b"access-control-allow-origin", b"*")]
NO_STORE_H: Headers = [*CORS_H, (b"cache-control", b"no-store")]
JSON_H: Headers = [*NO_STORE_H, (b"content-type", b"application/json")]
GIF_H: Headers = [*NO_STORE_H, (b"content-type", b"image/gif")]
TEXT_H: Headers = [*NO_STORE_H, (b"content-type", b"text/plain; charset=utf-8")]


class Req:
    """What the handlers read of a request (straight from the ASGI scope)."""

    __slots__ = ("scope", "receive", "headers")

    def __init__(self, scope: dict, receive: Callable) -> None:
        self.scope = scope
        self.receive = receive
        self.headers: dict[bytes, bytes] = dict(scope["headers"])

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return value.decode("latin-1") if value is not None else None

    @property
    def method(self) -> str:
        return self.scope["method"]

    @property
    def query(self) -> str:
        return self.scope.get("query_string", b"").decode("latin-1")

    @property
    def live(self) -> LiveCollector:
        return self.scope["app"].state.live

    def peer(self) -> str | None:
        client = self.scope.get("client")
        return client[0] if client else None

    async def body(self) -> bytes:
        """The body, at most MAX_BODY bytes (else 413)."""
        length = self.headers.get(b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise Reject(400, "Content-Length is not a number")
            if int(length) > MAX_BODY:
                raise Reject(413, TOO_LARGE)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise Reject(400, "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise Reject(413, TOO_LARGE)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


TOO_LARGE = f"request body larger than {MAX_BODY // 1024} KB"


class Reject(Exception):
    def __init__(self, status: int, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or []


def _error(status: int, message: str, headers: Headers | None = None) -> Reply:
    return status, [*JSON_H, *(headers or [])], orjson.dumps({"error": message})


def _json(obj: Any, status: int = 200) -> Reply:
    return status, JSON_H, orjson.dumps(obj)


def _json_body(raw: bytes) -> Any:
    if not raw.strip():
        raise BadEvent("the body is empty (expected JSON)")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadEvent("the body is not valid JSON") from None


RETRY_1: Headers = [(b"retry-after", b"1")]
RETRY_5: Headers = [(b"retry-after", b"5")]


def _client(req: Req, live: LiveCollector) -> str:
    ip = live.client_address(req.peer(), req.header(b"x-forwarded-for"))
    if not live.limiter.allow(ip):
        raise Reject(429, "too many requests from this address", RETRY_1)
    return ip


async def _sites(live: LiveCollector, items: list[Tracked], what: str) -> list:
    out = []
    for item in items:
        site = await live.sites.resolve(item.site)
        if site is None:
            raise BadEvent(f"unknown {what} {item.site[:100]!r} (add it: amtspuls site add)")
        out.append((item, site))
    return out


Handler = Callable[[Req], Awaitable[Reply]]


def _guard(handler: Handler) -> Handler:
    """Turn every failure into a 4xx with a reason (503 when the disk or ingest fails)."""

    async def guarded(req: Req) -> Reply:
        try:
            return await handler(req)
        except Reject as exc:
            return _error(exc.status, str(exc), exc.headers)
        except BadEvent as exc:
            return _error(400, str(exc))
        except Backlog:
            return _error(503, "too many events waiting to be stored; try again shortly", RETRY_5)
        except WalError:
            return _error(503, "the event could not be stored; try again", RETRY_5)
        except Exception:
            log.exception("tracking request failed")
            return _error(400, "the request could not be processed")

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded


# -- Matomo --------------------------------------------------------------------------------

def _token_ok(live: LiveCollector) -> Callable[[str | None], bool]:
    secret = live.settings.tracking_token

    def ok(token: str | None) -> bool:
        return bool(secret) and isinstance(token, str) and hmac.compare_digest(
            token.encode(), secret.encode())

    return ok


async def matomo(req: Req) -> Reply:
    """Matomo tracking API: one request (query string or form body) or a bulk request."""
    live = req.live
    ip = _client(req, live)
    query = req.query
    params = matomo_params(query) if query else {}
    body = await req.body() if req.method == "POST" else b""
    token_ok = _token_ok(live)
    ua = req.header(b"user-agent")
    now = now_utc()
    if body.lstrip()[:1] == b"{":
        return await _matomo_bulk(live, _json_body(body), ip, ua, token_ok, now)
    if body.strip():
        params.update(matomo_params(body.decode("utf-8", "replace")))
    tracked = parse_matomo(params, token_ok, now)
    if tracked is not None:
        items = await _sites(live, [tracked], "idsite")
        await live.submit(live.records(items, "matomo", ip, ua, now))
    if params.get("send_image") == "0":
        return 204, NO_STORE_H, b""
    return 200, GIF_H, GIF


async def _matomo_bulk(live: LiveCollector, body: Any, ip: str, ua: str | None,
                       token_ok: Callable[[str | None], bool], now: Any) -> Reply:
    requests, token = matomo_bulk(body)
    records: list[dict] = []
    invalid: list[int] = []
    first_error = ""
    for i, query in enumerate(requests):
        try:
            params = matomo_params(query)
            if token is not None:
                params.setdefault("token_auth", token)
            tracked = parse_matomo(params, token_ok, now)
            if tracked is not None:
                items = await _sites(live, [tracked], "idsite")
                records += live.records(items, "matomo", ip, ua, now)
        except BadEvent as exc:
            invalid.append(i)
            first_error = first_error or f"requests[{i}]: {exc}"
    if invalid and len(invalid) == len(requests):
        raise BadEvent(first_error)
    if len(records) > 1 and not token_ok(token) and not live.limiter.allow(ip, len(records) - 1):
        raise Reject(429, "too many events from this address", RETRY_1)
    await live.submit(records)
    return _json({"status": "success", "tracked": len(requests) - len(invalid),
                  "invalid": len(invalid), "invalid_indices": invalid})


# -- Plausible -----------------------------------------------------------------------------

async def plausible(req: Req) -> Reply:
    """Plausible Events API: one event; 202 like Plausible."""
    live = req.live
    ip = _client(req, live)
    items = parse_plausible(_json_body(await req.body()))
    known = [(t, s) for t in items if (s := await live.sites.resolve(t.site)) is not None]
    if not known:
        domains = ", ".join(t.site for t in items)[:200]
        raise BadEvent(f"unknown domain {domains!r} (add it: amtspuls site add)")
    now = now_utc()
    await live.submit(live.records(known, "plausible", ip, req.header(b"user-agent"), now))
    return 202, TEXT_H, b"ok"


# -- amtspuls tracker ----------------------------------------------------------------------

ACCEPTED_1 = b'{"accepted":1}'


async def collect(req: Req) -> Reply:
    """amtspuls tracker: one event object or `{"events": [...]}`, with `site`."""
    live = req.live
    ip = _client(req, live)
    body = _json_body(await req.body())
    tracked = parse_collect(body)
    if len(tracked) > 1 and not live.limiter.allow(ip, len(tracked) - 1):
        raise Reject(429, "too many events from this address", RETRY_1)
    items = await _sites(live, tracked, "site")
    now = now_utc()
    ua = req.header(b"user-agent")
    records = []
    for i, item in enumerate(items):
        try:
            records += live.records([item], "tracker", ip, ua, now)
        except BadEvent as exc:
            raise BadEvent(f"events[{i}]: {exc}" if "events" in body else str(exc)) from None
    await live.submit(records)
    if len(records) == 1:
        return 202, JSON_H, ACCEPTED_1
    return _json({"accepted": len(records)}, 202)


PREFLIGHT_H: Headers = [*CORS_H, (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                        (b"access-control-allow-headers", b"content-type"),
                        (b"access-control-max-age", b"86400")]


async def preflight(req: Req) -> Reply:
    return 204, PREFLIGHT_H, b""


async def tracker_script(req: Req) -> Reply:
    """The tracker script (gzip when the browser accepts it)."""
    plain, packed = tracker_bytes()
    etag = f'"{hashlib.sha256(plain).hexdigest()[:16]}"'.encode()
    headers: Headers = [(b"cache-control", b"public, max-age=3600"), (b"etag", etag),
                        (b"vary", b"accept-encoding"), (b"x-content-type-options", b"nosniff"),
                        (b"content-type", b"text/javascript; charset=utf-8"), *CORS_H]
    if req.headers.get(b"if-none-match") == etag:
        return 304, headers, b""
    if b"gzip" in req.headers.get(b"accept-encoding", b""):
        return 200, [*headers, (b"content-encoding", b"gzip")], packed
    return 200, headers, plain


# -- OpenAPI description -------------------------------------------------------------------

def _p(name: str, kind: str, text: str, required: bool = False, example: Any = None) -> dict:
    param = {"name": name, "in": "query", "required": required, "description": text,
             "schema": {"type": kind}}
    if example is not None:
        param["example"] = example
    return param


_MATOMO_PARAMS = [
    _p("idsite", "integer", "Site id (as printed by `amtspuls site add`)", True, 1),
    _p("rec", "integer", "Must be 1", True, 1),
    _p("url", "string", "Page URL", True, "https://www.musterstadt.de/buergerservice"),
    _p("action_name", "string", "Page title", example="Bürgerservice"),
    _p("urlref", "string", "Referrer"),
    _p("search", "string", "Site search: the query (makes the request a search)"),
    _p("search_cat", "string", "Site search: category"),
    _p("search_count", "integer", "Site search: number of results"),
    _p("download", "string", "URL of a downloaded file"),
    _p("link", "string", "URL of an outbound link"),
    _p("e_c", "string", "Event category"),
    _p("e_a", "string", "Event action"),
    _p("e_n", "string", "Event name"),
    _p("e_v", "number", "Event value"),
    _p("ua", "string", "User agent (overrides the header)"),
    _p("lang", "string", "Accept-Language (ignored)"),
    _p("res", "string", "Screen resolution (ignored)"),
    _p("pv_id", "string", "Page view id (ignored)"),
    _p("h", "integer", "Visitor's local hour (ignored)"),
    _p("m", "integer", "Visitor's local minute (ignored)"),
    _p("s", "integer", "Visitor's local second (ignored)"),
    _p("send_image", "integer", "0: answer 204 instead of a GIF"),
    _p("ping", "integer", "1: heartbeat (nothing recorded)"),
    _p("cip", "string", "Client address (only with a valid token_auth)"),
    _p("cdt", "string", "Time, UTC (only with a valid token_auth)"),
    _p("token_auth", "string", "The configured tracking_token"),
    _p("_id", "string", "Visitor id cookie value (ignored, never stored)"),
    _p("uid", "string", "User id (ignored, never stored)"),
    _p("cid", "string", "Visitor id (ignored, never stored)"),
]
_ERR = {"application/json": {"schema": {"type": "object", "properties": {
    "error": {"type": "string"}}, "required": ["error"]}}}
_ERRORS = {
    "400": {"description": "Malformed request or unknown site", "content": _ERR},
    "413": {"description": "Body larger than 64 KB", "content": _ERR},
    "429": {"description": "Rate limit of the client address exceeded", "content": _ERR},
    "503": {"description": "Not stored (disk failure, ingest far behind); retry", "content": _ERR},
}
_MATOMO_DOC = {
    "parameters": _MATOMO_PARAMS,
    "responses": {
        "200": {"description": "Recorded; a 1×1 GIF, or the result of a bulk request",
                "content": {"image/gif": {"schema": {"type": "string", "format": "binary"}},
                            "application/json": {"schema": {"type": "object"}}}},
        "204": {"description": "Recorded (send_image=0)"},
        **_ERRORS,
    },
}
_MATOMO_POST_DOC = {
    **_MATOMO_DOC,
    "parameters": [{**p, "required": False} for p in _MATOMO_PARAMS],
    "requestBody": {"required": False, "content": {
        "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
            p["name"]: p["schema"] for p in _MATOMO_PARAMS}}},
        "application/json": {"schema": {
            "type": "object", "required": ["requests"],
            "properties": {"requests": {"type": "array", "items": {"type": "string"},
                                        "maxItems": 1000},
                           "token_auth": {"type": "string"}}}},
    }},
}
_EVENT_PROPS = {k: {"type": t} for k, t in (
    ("type", "string"), ("url", "string"), ("referrer", "string"), ("title", "string"),
    ("query", "string"), ("results", "integer"), ("category", "string"), ("target", "string"),
    ("form", "string"), ("field", "string"), ("engagement_ms", "integer"), ("name", "string"),
    ("action", "string"), ("value", "number"))}
_EVENT_PROPS["type"] = {"type": "string", "enum": [
    "pageview", "search", "download", "outlink", "form_start", "form_submit", "form_error",
    "rage_click", "engagement", "custom", "not_found"]}
_SITE = {"oneOf": [{"type": "string"}, {"type": "integer"}],
         "description": "Domain or numeric site id"}
_COLLECT_ONE = {"type": "object", "required": ["site", "url"],
                "properties": {"site": _SITE, **_EVENT_PROPS}}
_COLLECT_MANY = {"type": "object", "required": ["site", "events"], "properties": {
    "site": _SITE,
    "events": {"type": "array", "maxItems": 1000, "items": {
        "type": "object", "required": ["url"], "properties": _EVENT_PROPS}}}}
_COLLECT_DOC = {
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": {"oneOf": [_COLLECT_ONE, _COLLECT_MANY]},
        "example": {"site": "www.musterstadt.de", "type": "search", "query": "sperrmuell",
                    "url": "https://www.musterstadt.de/suche?q=sperrmuell", "results": 4},
    }}},
    "responses": {
        "202": {"description": "Stored durably", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"accepted": {"type": "integer"}}}}}},
        **_ERRORS,
    },
}
_PLAUSIBLE_EVENT = {"type": "object", "required": ["name", "url", "domain"], "properties": {
    "name": {"type": "string"}, "url": {"type": "string"}, "domain": {"type": "string"},
    "referrer": {"type": ["string", "null"]}, "props": {"type": "object"}}}
_PLAUSIBLE_DOC = {
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": _PLAUSIBLE_EVENT,
        "example": {"name": "pageview", "url": "https://www.musterstadt.de/rathaus",
                    "domain": "www.musterstadt.de", "referrer": None},
    }}},
    "responses": {"202": {"description": "Stored durably",
                          "content": {"text/plain": {"schema": {"type": "string"}}}},
                  **_ERRORS},
}

class LeanRoute(APIRoute):
    """A route in the OpenAPI schema whose endpoint takes the request and returns the
    response itself (no dependency solving, no body validation)."""

    def get_route_handler(self) -> Callable:
        return self.endpoint


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The route form of a handler (the fast path below serves it without the route)."""

    async def endpoint(request: Request) -> Response:
        status, headers, body = await handler(Req(request.scope, request.receive))
        response = Response(body, status)
        response.raw_headers.extend(headers)
        return response

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


router = APIRouter(route_class=LeanRoute, tags=["tracking"])
for _path in ("/matomo.php", "/piwik.php"):
    router.add_api_route(_path, _endpoint(_guard(matomo)), methods=["GET"], response_class=Response,
                         openapi_extra=_MATOMO_DOC, summary="Matomo tracking API",
                         operation_id=f"matomo_get_{_path[1:-4]}")
    router.add_api_route(_path, _endpoint(_guard(matomo)), methods=["POST"],
                         response_class=Response,
                         openapi_extra=_MATOMO_POST_DOC, summary="Matomo tracking API (POST, bulk)",
                         operation_id=f"matomo_post_{_path[1:-4]}")
router.add_api_route("/api/event", _endpoint(_guard(plausible)), methods=["POST"],
                     response_class=Response,
                     openapi_extra=_PLAUSIBLE_DOC, summary="Plausible Events API",
                     operation_id="plausible_event")
router.add_api_route("/api/collect", _endpoint(_guard(collect)), methods=["POST"],
                     response_class=Response,
                     openapi_extra=_COLLECT_DOC, summary="amtspuls tracker events",
                     operation_id="collect")
for _path in ("/matomo.php", "/piwik.php", "/api/event", "/api/collect"):
    router.add_api_route(_path, _endpoint(preflight), methods=["OPTIONS"], include_in_schema=False)
router.add_api_route(TRACKER_PATH, _endpoint(tracker_script), methods=["GET"],
                     include_in_schema=False)


_FAST = {
    ("GET", "/matomo.php"): _guard(matomo), ("POST", "/matomo.php"): _guard(matomo),
    ("GET", "/piwik.php"): _guard(matomo), ("POST", "/piwik.php"): _guard(matomo),
    ("POST", "/api/event"): _guard(plausible), ("POST", "/api/collect"): _guard(collect),
    ("GET", TRACKER_PATH): _guard(tracker_script),
    **{("OPTIONS", p): _guard(preflight) for p in ("/matomo.php", "/piwik.php", "/api/event",
                                                   "/api/collect")},
}


class CollectFastPath:
    """The hot path: tracking requests go straight to their handler, past FastAPI's
    middleware and routing (which cost more than the handler: ~170 µs a request on this
    machine); everything else passes on. The same handlers are registered as routes
    above, for the OpenAPI schema and for an app whose lifespan has not run."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            handler = _FAST.get((scope["method"], scope["path"]))
            if handler is not None:
                status, headers, body = await handler(Req(scope, receive))
                if status not in (204, 304):
                    headers = [*headers, (b"content-length", b"%d" % len(body))]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


async def startup(app: FastAPI) -> None:
    app.state.live = LiveCollector(app.state.settings, app.state.store)
    await app.state.live.start()
    # Put the fast path in front of the app's whole middleware stack (Starlette builds it
    # on the first call, the lifespan's, and uses `middleware_stack` from then on).
    stack = app.middleware_stack or app.build_middleware_stack()
    if not isinstance(stack, CollectFastPath):
        app.middleware_stack = CollectFastPath(stack)


async def shutdown(app: FastAPI) -> None:
    live = getattr(app.state, "live", None)
    if live is not None:
        await live.stop()
