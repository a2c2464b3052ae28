"""Access to the dashboard and the REST API: passwords, login sessions, API tokens, CSRF,
login rate limiting, roles per site, and the security headers of every answer.

    request ─► AccessMiddleware ─┬─ security headers (strict CSP with a nonce, …)
                                 ├─ who is it? (Bearer token or session cookie)
                                 └─ /api/v1/*: 401 without, 403 for a missing role

Dashboard routes check roles themselves (`require`), so a page can send a browser to the
login form instead of answering with JSON. The tracking endpoints, `/open311/v2` (its own
API keys) and `/api/v1/health` are public. Decisions are documented in docs/dashboard.md.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import HTTPException, Request

from amtspuls.config import Settings
from amtspuls.errors import UserError
from amtspuls.privacy.ip import truncate_ip
from amtspuls.store import DuckDBStore
from amtspuls.store import users as us

SESSION_COOKIE = "amtspuls_session"
SECURE_SESSION_COOKIE = "__Host-amtspuls_session"
LOGIN_CSRF_COOKIE = "amtspuls_login"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
TOKEN_PREFIX = "apt_"
TOUCH_SECONDS = 60  # a session's last_seen is written at most this often

# Paths anyone may reach. Everything under /api/v1 except these needs a token or login.
PUBLIC_API = ("/api/v1/health",)
TRACKING = ("/matomo.php", "/piwik.php", "/api/event", "/api/collect", "/js/amtspuls.js")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# POSTs that only compute an answer (a batch of queries to map): a viewer may send them.
READ_ONLY_POSTS = ("/api/v1/map-queries",)

_hasher = PasswordHasher()  # argon2id, the library's (RFC 9106 low-memory) defaults
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD = 10
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-@")


# -- secrets -----------------------------------------------------------------------------

def hash_password(password: str) -> str:
    check_password(password)
    return _hasher.hash(password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password too short: at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise UserError("password too long (at most 1024 characters)")


def verify_password(hashed: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (a dummy hash is checked instead)."""
    try:
        return _hasher.verify(hashed or _DUMMY_HASH, password) and hashed is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def check_name(name: str) -> str:
    name = (name or "").strip().lower()
    if not 2 <= len(name) <= 64 or not set(name) <= NAME_CHARS:
        raise UserError("user name: 2–64 characters of a–z, 0–9, '.', '_', '-', '@'")
    return name


def new_api_token() -> tuple[str, str, str]:
    """(token shown once, its hash, a prefix to recognise it by)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, sha256(token), token[: len(TOKEN_PREFIX) + 6]


# -- users (shared by the CLI, the settings page and `make demo`) -------------------------

def add_user(store: DuckDBStore, name: str, role: str, password: str | None,
             site: str | None = None, actor: str | None = None) -> us.User:
    """Create a user (or give an existing one the role) for one site or every site."""
    name = check_name(name)
    if role not in us.ROLES:
        raise UserError(f"--role must be one of {', '.join(us.ROLES)}")
    site_id = us.ALL_SITES
    if site:
        site_id = store.ensure_site(site).id
    hashed = hash_password(password) if password is not None else None
    user = us.get_user(store, name)
    if user is None:
        user = us.create_user(store, name, hashed)
        us.audit(store, "user.add", actor=actor, target=name, site_id=site_id or None,
                 detail={"role": role})
    elif hashed is not None:
        us.set_password(store, user.id, hashed)
        us.delete_sessions_of(store, user.id)
        us.audit(store, "user.password", actor=actor, target=name)
    us.set_role(store, user.id, site_id, role)
    us.audit(store, "user.role", actor=actor, target=name, site_id=site_id or None,
             detail={"role": role})
    found = us.user_by_id(store, user.id)
    assert found is not None
    return found


def issue_token(store: DuckDBStore, name: str, label: str = "api",
                actor: str | None = None) -> tuple[str, int]:
    user = us.get_user(store, check_name(name))
    if user is None:
        raise UserError(f"unknown user {name!r} (amtspuls user add {name} --role …)")
    token, hashed, prefix = new_api_token()
    token_id = us.create_token(store, user.id, label.strip()[:80] or "api", hashed, prefix)
    us.audit(store, "token.create", actor=actor or name, target=name,
             detail={"token_id": token_id, "prefix": prefix})
    return token, token_id


def demo_user(data_dir: str | Any, name: str = "demo") -> tuple[str, str]:
    """For `make demo`: an admin for every site with a fresh random password; returns
    (name, password) to print. Call it before `serve` starts (the store is locked then)."""
    from amtspuls.config import load_settings
    from amtspuls.store import open_store

    store = open_store(load_settings(data_dir))
    try:
        password = secrets.token_urlsafe(12)
        add_user(store, name, "admin", password, actor="make demo")
        return name, password
    finally:
        store.close()


# -- who is asking -----------------------------------------------------------------------

@dataclass
class Principal:
    user: us.User
    via: str  # session | token
    session: us.LoginSession | None = None

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def csrf(self) -> str | None:
        return self.session.csrf if self.session else None

    def role_for(self, site_id: int | None) -> str | None:
        return self.user.role_for(site_id)

    def can(self, role: str, site_id: int | None) -> bool:
        """At least `role` for the site (None: a role for every site is needed)."""
        have = self.user.global_role() if site_id is None else self.role_for(site_id)
        return have is not None and us.ROLES.index(have) >= us.ROLES.index(role)

    def site_ids(self, all_ids: list[int]) -> list[int]:
        if self.user.global_role():
            return list(all_ids)
        return [s for s in all_ids if s in self.user.roles]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def cookie_value(cookies: dict[str, str]) -> str | None:
    return cookies.get(SECURE_SESSION_COOKIE) or cookies.get(SESSION_COOKIE)


def session_principal(store: DuckDBStore, settings: Settings, raw: str) -> Principal | None:
    if not raw or len(raw) > 200:
        return None
    session = us.get_session(store, sha256(raw))
    now = _now()
    if session is None:
        return None
    idle = timedelta(minutes=settings.session_idle_minutes)
    if session.expires <= now or session.last_seen + idle <= now:
        us.delete_session(store, session.id_hash)
        return None
    user = us.user_by_id(store, session.user_id)
    if user is None or user.disabled:
        return None
    if (now - session.last_seen).total_seconds() >= TOUCH_SECONDS:
        us.touch_session(store, session.id_hash, now)
    return Principal(user, "session", session)


def token_principal(store: DuckDBStore, token: str) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    found = us.token_owner(store, sha256(token))
    if found is None:
        return None
    token_id, user_id, last_used = found
    user = us.user_by_id(store, user_id)
    if user is None or user.disabled:
        return None
    now = _now()
    if last_used is None or (now - last_used).total_seconds() >= TOUCH_SECONDS:
        us.touch_token(store, token_id, now)
    return Principal(user, "token")


def new_session(store: DuckDBStore, settings: Settings, user: us.User) -> str:
    raw = secrets.token_urlsafe(32)
    now = _now()
    us.create_session(store, sha256(raw), user.id, secrets.token_urlsafe(32), now,
                      now + timedelta(hours=settings.session_hours))
    us.purge_sessions(store, now, now - timedelta(minutes=settings.session_idle_minutes))
    return raw


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


# -- cookies -----------------------------------------------------------------------------

LOOPBACK_NAMES = ("localhost", "localhost.", "ip6-localhost")


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_host(host_header: str) -> bool:
    name = _host_name(host_header)
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def secure_cookies(settings: Settings, scheme: str, headers: dict[str, str]) -> bool:
    """Whether cookies get `Secure` (see `cookie_secure` in docs/dashboard.md)."""
    mode = str(settings.cookie_secure).strip().lower()
    if mode in ("1", "true", "yes", "on"):
        return True
    if mode in ("0", "false", "no", "off"):
        return False
    if scheme == "https" or headers.get("x-forwarded-proto", "").lower() == "https":
        return True
    return not is_loopback_host(headers.get("host", ""))


def session_cookie_header(raw: str, secure: bool, max_age: int) -> str:
    name = SECURE_SESSION_COOKIE if secure else SESSION_COOKIE
    return (f"{name}={raw}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
            + ("; Secure" if secure else ""))


def clear_cookie_headers() -> list[str]:
    return [f"{SECURE_SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure",
            f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"]


def login_csrf_cookie_header(value: str, secure: bool) -> str:
    return (f"{LOGIN_CSRF_COOKIE}={value}; Path=/anmelden; Max-Age=3600; HttpOnly; "
            f"SameSite=Strict" + ("; Secure" if secure else ""))


# -- login rate limit --------------------------------------------------------------------

class LoginLimiter:
    """Failed logins (in memory only) per user name, and per client network with a higher
    limit (many staff may share one network): after `max_failures` for a name (or five
    times that for a network) within `window` seconds, further attempts wait until the
    oldest failure leaves the window."""

    NETWORK_FACTOR = 5

    def __init__(self, max_failures: int, window: float = 900.0) -> None:
        self.max_failures = max(1, int(max_failures))
        self.window = window
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _limit(self, key: str) -> int:
        return self.max_failures * (self.NETWORK_FACTOR if key.startswith("net:") else 1)

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, keys: list[str]) -> int:
        """Seconds until an attempt is allowed again (0: now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                q = self._recent(key, now)
                limit = self._limit(key)
                if len(q) >= limit:
                    wait = max(wait, q[len(q) - limit] + self.window - now)
        return int(wait + 0.999)

    def failed(self, keys: list[str]) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._fails) > 100_000:
                self._fails.clear()
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, name_key: str) -> None:
        with self._lock:
            self._fails.pop(name_key, None)


# -- route dependencies ------------------------------------------------------------------

class LoginRequired(Exception):
    """A page needs a login: the dashboard sends the browser to the login form."""


def principal_of(request: Request) -> Principal | None:
    return getattr(request.state, "principal", None)


def require_login(request: Request) -> Principal:
    principal = principal_of(request)
    if principal is None:
        raise LoginRequired()
    return principal


def require_csrf(request: Request, principal: Principal, given: str | None) -> None:
    if principal.via == "session" and not csrf_ok(principal.csrf, given):
        raise HTTPException(403, "CSRF token missing or wrong")
    if not same_origin(request.headers):
        raise HTTPException(403, "cross-origin form post refused")


def same_origin(headers: Any) -> bool:
    """A form post must come from this origin when the browser says where it comes from
    (the CSRF token is checked as well; this only adds a second, independent check)."""
    origin = headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    return origin.split("://", 1)[-1].rstrip("/") == headers.get("host", "")


# -- the middleware ----------------------------------------------------------------------

def is_public(path: str) -> bool:
    return (path in PUBLIC_API or path in TRACKING or path.startswith("/open311/")
            or path == "/open311")


def csp(nonce: str) -> str:
    return ("default-src 'none'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
]


class AccessMiddleware:
    """Pure ASGI (streams such as Server-Sent Events pass through unbuffered)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        nonce = secrets.token_urlsafe(16)
        state = scope.setdefault("state", {})
        state["csp_nonce"] = nonce
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        public_cors = path in TRACKING or path.startswith("/open311")
        extra = [*BASE_HEADERS, (b"content-security-policy", csp(nonce).encode())]
        if not public_cors:
            extra.append((b"cross-origin-opener-policy", b"same-origin"))
            extra.append((b"cross-origin-resource-policy", b"same-origin"))
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", b"max-age=31536000"))

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                out = list(message.get("headers", []))
                out += [(k, v) for k, v in extra if k not in have]
                if b"cache-control" not in have and not path.startswith("/static/"):
                    out.append((b"cache-control", b"no-store"))
                message = {**message, "headers": out}
            await send(message)

        app_state = scope["app"].state
        store: DuckDBStore | None = getattr(app_state, "store", None)
        settings: Settings | None = getattr(app_state, "settings", None)
        if store is None or settings is None or is_public(path):
            await self.app(scope, receive, send_with_headers)
            return

        principal, bad_token = await _resolve(store, settings, headers)
        state["principal"] = principal
        if path.startswith("/api/v1/") or path == "/api/v1":
            refusal = _api_refusal(store, settings, scope, headers, principal, bad_token)
            if refusal is not None:
                status, message, www = refusal
                await _json_error(send_with_headers, status, message, www)
                return
        await self.app(scope, receive, send_with_headers)


async def _resolve(store: DuckDBStore, settings: Settings,
                   headers: dict[str, str]) -> tuple[Principal | None, bool]:
    import asyncio

    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        token = auth[7:].strip()
        found = await asyncio.to_thread(token_principal, store, token)
        return found, found is None
    raw = cookie_value(parse_cookies(headers.get("cookie", "")))
    if raw:
        return await asyncio.to_thread(session_principal, store, settings, raw), False
    return None, False


def parse_cookies(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out.setdefault(k.strip(), v.strip())
    return out


def _api_refusal(store: DuckDBStore, settings: Settings, scope: dict, headers: dict[str, str],
                 principal: Principal | None, bad_token: bool) -> tuple[int, str, bool] | None:
    if path_is_public_api(scope["path"]):
        return None
    if not settings.api_auth:
        return None
    if bad_token:
        return 401, "invalid or revoked API token", True
    if principal is None and _clerk_key_for_requests(store, scope, headers):
        return None  # the request routes check the key's site rights themselves
    if principal is None:
        return (401, "authentication required: send 'Authorization: Bearer TOKEN' "
                     "(amtspuls user token NAME)", True)
    method = scope["method"]
    reading = method in SAFE_METHODS or scope["path"] in READ_ONLY_POSTS
    needed = "viewer" if reading else "analyst"
    if (method not in SAFE_METHODS and principal.via == "session"
            and not csrf_ok(principal.csrf, headers.get(CSRF_HEADER))):
        return 403, "CSRF token missing or wrong (X-CSRF-Token header)", False
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    site_id = None
    domain = query.get("site")
    if domain:
        try:
            site = store.get_site(domain)
        except UserError:
            site = None
        site_id = site.id if site is not None else None
    if not principal.can(needed, site_id):
        where = f"site {domain!r}" if domain else "all sites"
        return 403, f"user {principal.name!r} lacks the role {needed!r} for {where}", False
    return None


def _clerk_key_for_requests(store: DuckDBStore, scope: dict, headers: dict[str, str]) -> bool:
    """A specialised system without a dashboard user (a Fachverfahren) reads and reviews
    service requests with an API key of role clerk (`amtspuls requests api-key add`)."""
    key = headers.get("x-api-key")
    if not key or not scope["path"].startswith("/api/v1/requests"):
        return False
    from amtspuls.store.requests_store import RequestStore

    who = RequestStore(store).check_api_key(key)
    return who is not None and who["role"] == "clerk"


def path_is_public_api(path: str) -> bool:
    return path in PUBLIC_API


async def _json_error(send: Any, status: int, message: str, www: bool) -> None:
    body = orjson.dumps({"error": message})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if www:
        headers.append((b"www-authenticate", b'Bearer realm="amtspuls"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def login_redirect(path_and_query: str) -> str:
    return "/anmelden?next=" + quote(path_and_query, safe="")


def client_network(ip: str | None) -> str:
    return truncate_ip(ip) or "unknown"
