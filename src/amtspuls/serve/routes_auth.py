"""Login, logout and the language switch; and (through `configure`) the access middleware
with the security headers. See `serve/auth.py` and docs/dashboard.md."""

from __future__ import annotations

import asyncio
import hmac
import secrets

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from amtspuls.serve import auth
from amtspuls.serve.dashboard.context import LANG_COOKIE, language
from amtspuls.serve.dashboard.i18n import LANGS, translator
from amtspuls.serve.dashboard.render import render
from amtspuls.store import users as us

router = APIRouter(include_in_schema=False)


def configure(app: FastAPI) -> None:
    """Called once when the app is created: every answer passes the access middleware."""
    app.add_middleware(auth.AccessMiddleware)


def safe_next(value: str | None) -> str:
    """Only a path on this server (no `//host`, no scheme): no open redirect."""
    if (not value or not value.startswith("/") or value.startswith("//")
            or value.startswith("/\\") or any(c in value for c in "\r\n\t")):
        return "/dashboard/"
    return value


def _limiter(request: Request) -> auth.LoginLimiter:
    state = request.app.state
    limiter = getattr(state, "login_limiter", None)
    if limiter is None:
        limiter = state.login_limiter = auth.LoginLimiter(state.settings.login_max_failures)
    return limiter


def _client(request: Request) -> str | None:
    live = getattr(request.app.state, "live", None)
    peer = request.client.host if request.client else None
    if live is not None:
        return live.client_address(peer, request.headers.get("x-forwarded-for"))
    return peer


def _secure(request: Request) -> bool:
    return auth.secure_cookies(request.app.state.settings, request.url.scheme,
                               {k.lower(): v for k, v in request.headers.items()})


def _login_form(request: Request, status: int = 200, message: str = "", kind: str = "error",
                name: str = "", next_url: str = "/dashboard/",
                headers: dict[str, str] | None = None) -> Response:
    lang = language(request)
    t = translator(lang)
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status, lang=lang, title=t("Anmelden"),
                      message=message, kind=kind, name=name, next=safe_next(next_url),
                      login_csrf=token, here=request.url.path, headers=headers)
    response.headers.append("set-cookie", auth.login_csrf_cookie_header(token, _secure(request)))
    return response


@router.get("/anmelden")
def login_page(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    if auth.principal_of(request) is not None:
        return RedirectResponse(next_url, 303)
    t = translator(language(request))
    bye = request.query_params.get("bye")
    return _login_form(request, message=t("Sie wurden abgemeldet.") if bye else "",
                       kind="notice", next_url=next_url)


@router.post("/anmelden")
async def login(request: Request) -> Response:
    t = translator(language(request))
    form = await request.form()
    name = str(form.get("name") or "").strip().lower()[:64]
    password = str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or ""))
    given = str(form.get(auth.CSRF_FIELD) or "")
    expected = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
    store = request.app.state.store
    client = auth.client_network(_client(request))
    if (not expected or not hmac.compare_digest(expected, given)
            or not auth.same_origin(request.headers)):
        us.audit(store, "login.csrf", False, None, name or None, client=client)
        return _login_form(request, 403, t("Die Anmeldung ist abgelaufen. Bitte erneut "
                                           "versuchen."), name=name, next_url=next_url)
    limiter = _limiter(request)
    keys = [f"name:{name}", f"net:{client}"]
    wait = limiter.retry_after(keys)
    if wait:
        us.audit(store, "login.throttled", False, None, name or None, client=client)
        return _login_form(request, 429, t("Zu viele Fehlversuche. Bitte in {s} Sekunden "
                                           "erneut versuchen.", s=wait), name=name,
                           next_url=next_url, headers={"retry-after": str(wait)})
    found = await asyncio.to_thread(us.password_hash, store, name)
    user, hashed = found if found else (None, None)
    ok = await asyncio.to_thread(auth.verify_password, hashed, password)
    if not ok or user is None or user.disabled:
        limiter.failed(keys)
        us.audit(store, "login.fail", False, None, name or None, client=client)
        return _login_form(request, 401, t("Anmeldung fehlgeschlagen: Benutzername oder "
                                           "Passwort falsch."), name=name, next_url=next_url)
    limiter.succeeded(keys[0])
    settings = request.app.state.settings
    raw = await asyncio.to_thread(auth.new_session, store, settings, user)
    us.audit(store, "login.ok", True, user.name, user.name, client=client)
    response = RedirectResponse(next_url, 303)
    secure = _secure(request)
    response.headers.append("set-cookie", auth.session_cookie_header(
        raw, secure, int(settings.session_hours) * 3600))
    response.headers.append("set-cookie", f"{auth.LOGIN_CSRF_COOKIE}=; Path=/anmelden; "
                                          "Max-Age=0; HttpOnly; SameSite=Strict")
    return response


@router.post("/abmelden")
async def logout(request: Request) -> Response:
    principal = auth.principal_of(request)
    form = await request.form()
    response = RedirectResponse("/anmelden?bye=1", 303)
    if principal is not None and principal.session is not None:
        if not auth.csrf_ok(principal.csrf, str(form.get(auth.CSRF_FIELD) or "")):
            t = translator(language(request))
            return render(request, "message.html", status=403, lang=language(request),
                          title=t("Keine Berechtigung"), message="CSRF", here="/")
        store = request.app.state.store
        us.delete_session(store, principal.session.id_hash)
        us.audit(store, "logout", True, principal.name, principal.name,
                 client=auth.client_network(_client(request)))
    for header in auth.clear_cookie_headers():
        response.headers.append("set-cookie", header)
    return response


@router.get("/sprache")
def set_language(request: Request) -> Response:
    """The language switch: a preference cookie (not a security-relevant change)."""
    lang = request.query_params.get("lang", "de")
    response = RedirectResponse(safe_next(request.query_params.get("next")), 303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True,
                            samesite="strict", secure=_secure(request), path="/")
    return response
