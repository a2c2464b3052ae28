"""The dashboard: server-rendered pages (German, English as second language), CSV export
of every table, Server-Sent Events for the live figures, the settings page, and the
optional public transparency page. See docs/dashboard.md."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable
from datetime import date
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from amtspuls.analyze.reports import local_range, run_report
from amtspuls.errors import UserError
from amtspuls.model import Site
from amtspuls.privacy.kanon import suppress_small
from amtspuls.serve import auth
from amtspuls.serve.auth import Principal, principal_of
from amtspuls.serve.dashboard import pages as P
from amtspuls.serve.dashboard.context import NoSite, PageContext, language, page_context
from amtspuls.serve.dashboard.i18n import translator
from amtspuls.serve.dashboard.model import Col, Kpi, Page, Section, Table, to_csv
from amtspuls.serve.dashboard.render import render
from amtspuls.serve.dashboard.settings_page import settings_page
from amtspuls.store import users as us
from amtspuls.store.alert_status import set_alert_status

router = APIRouter(include_in_schema=False)

SSE_SECONDS = 20.0  # a stream ends after this (the browser reconnects): keeps stops quick
SSE_POLL = 0.25
SSE_HEARTBEAT = 10.0
STATIC = {"dashboard.css": "text/css; charset=utf-8",
          "dashboard.js": "text/javascript; charset=utf-8"}
_static_cache: dict[str, tuple[bytes, str]] = {}


def _here(request: Request) -> str:
    q = request.url.query
    return request.url.path + ("?" + q if q else "")


def _message(request: Request, status: int, title: str, message: str,
             principal: Principal | None = None, back: str | None = None) -> Response:
    lang = language(request)
    t = translator(lang)
    return render(request, "message.html", status=status, lang=lang, title=t(title),
                  message=message, here=_here(request), kind="error", back=back)


def _builder(slug: str) -> tuple[Callable[[PageContext], Page], str] | None:
    if slug == "einstellungen":
        return settings_page, "admin"
    found = P.PAGES.get(slug)
    return (found[1], found[2]) if found else None


def _context(request: Request, slug: str) -> tuple[PageContext | None, Response | None]:
    """The page's context, or the answer instead (login form, 403, 400)."""
    principal = principal_of(request)
    if principal is None:
        return None, RedirectResponse(auth.login_redirect(_here(request)), 303)
    t = translator(language(request))
    try:
        ctx = page_context(request, principal)
    except NoSite:
        return None, _message(request, 403, "Keine Berechtigung",
                              t("Für Ihr Konto ist noch keine Website freigegeben."))
    except PermissionError:
        return None, _message(request, 403, "Keine Berechtigung", t("Keine Berechtigung"))
    except UserError as exc:
        return None, _message(request, 400, "Fehler", str(exc))
    found = _builder(slug)
    if found is None:
        return None, _message(request, 404, "Seite nicht gefunden", t("Seite nicht gefunden"))
    need = found[1]
    allowed = principal.can("admin", None) if slug == "einstellungen" else ctx.can(need)
    if not allowed:
        return None, _message(request, 403, "Keine Berechtigung", t("Keine Berechtigung"))
    return ctx, None


def _build(ctx: PageContext, slug: str) -> Page:
    found = _builder(slug)
    assert found is not None
    try:
        page = found[0](ctx)
    except UserError as exc:  # bad input for an analysis: the page says why
        page = Page(slug, ctx.t(P.PAGES.get(slug, ("Einstellungen",))[0]),
                    sections=[Section("fehler", ctx.t("Fehler"), notice=str(exc))])
    for table in page.tables().values():
        table.guard(ctx.k)
    return page


def _export_url(ctx: PageContext, slug: str) -> Callable[[Table | None], str | None]:
    def url(table: Table | None) -> str | None:
        if table is None or not table.export:
            return None
        return f"/dashboard/export/{slug or 'uebersicht'}/{table.id}.csv?{ctx.query()}"
    return url


def _render_page(request: Request, ctx: PageContext, slug: str, page: Page,
                 template: str = "page.html", **extra: Any) -> Response:
    return render(
        request, template, lang=ctx.lang, title=page.title, page=page, ctx=ctx,
        role=ctx.role, show_nav=True, current=slug, query=ctx.query(),
        is_admin=ctx.principal.can("admin", None), here=_here(request),
        export=_export_url(ctx, slug), action_path=request.url.path,
        footer_site=ctx.site.domain, flash=extra.pop("flash", None), **extra)


# -- pages -------------------------------------------------------------------------------

@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard/", 307)


@router.get("/dashboard")
def dashboard_root() -> RedirectResponse:
    return RedirectResponse("/dashboard/", 307)


@router.get("/dashboard/live")
async def live_stream(request: Request) -> Response:
    """Server-Sent Events: the live figures of the overview, sent when new events are
    stored (checked every 0.25 s) and every 10 s otherwise."""
    principal = principal_of(request)
    if principal is None:
        return PlainTextResponse("login required", 401)
    store = request.app.state.store
    domain = request.query_params.get("site", "")
    try:
        site = store.get_site(domain) if domain else None
    except UserError:
        site = None
    if site is None or not principal.can("viewer", site.id):
        return PlainTextResponse("not allowed", 403)
    k = int(request.app.state.settings.k_anonymity)

    async def events():
        yield "retry: 1000\n\n"
        started = time.monotonic()
        seen: int | None = -1
        sent = 0.0
        while time.monotonic() - started < SSE_SECONDS:
            live = getattr(request.app.state, "live", None)
            count = getattr(live, "ingested", None)
            now = time.monotonic()
            if count != seen or now - sent >= SSE_HEARTBEAT:
                data = await asyncio.to_thread(P.live_data, store, site.id, k)
                yield f"event: live\ndata: {orjson.dumps(data).decode()}\n\n"
                seen, sent = count, now
            if await request.is_disconnected():
                break
            await asyncio.sleep(SSE_POLL)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


@router.get("/dashboard/export/{slug}/{table_id}.csv")
def export_csv(request: Request, slug: str, table_id: str) -> Response:
    slug = "" if slug == "uebersicht" else slug
    ctx, refusal = _context(request, slug)
    if refusal is not None:
        return refusal
    assert ctx is not None
    page = _build(ctx, slug)
    table = page.tables().get(table_id)
    if table is None or not table.export:
        return _message(request, 404, "Seite nicht gefunden", ctx.t("Seite nicht gefunden"))
    name = f"amtspuls-{slug or 'uebersicht'}-{table_id}-{ctx.date_from}-{ctx.date_to}.csv"
    return Response(to_csv(table), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.get("/dashboard/")
def overview_page(request: Request) -> Response:
    return show_page(request, "")


@router.get("/dashboard/{slug}")
def show_page(request: Request, slug: str) -> Response:
    ctx, refusal = _context(request, slug)
    if refusal is not None:
        return refusal
    assert ctx is not None
    page = _build(ctx, slug)
    if slug == "einstellungen":
        return _render_page(request, ctx, slug, page, "settings.html", new_token=None,
                            user_names=[u.name for u in us.list_users(ctx.store)],
                            flash=ctx.t("Gespeichert.") if request.query_params.get("ok")
                            else None)
    return _render_page(request, ctx, slug, page, flash=_flash(ctx))


def _flash(ctx: PageContext) -> str | None:
    """The confirmation after a button (the redirect back carries `ok` or `berechnet`)."""
    q = ctx.request.query_params
    computed = q.get("berechnet", "")
    if computed.isdigit():
        return ctx.t("Empfehlungen neu berechnet: {n} aktuelle Empfehlungen.",
                     n=int(computed))
    return ctx.t("Gespeichert.") if q.get("ok") else None


# -- actions (POST forms, CSRF-checked) ---------------------------------------------------

async def _form_action(request: Request, role: str, global_role: bool = False
                       ) -> tuple[Principal, dict[str, str], Site | None] | Response:
    """Login, CSRF token and role checked: (principal, form fields, the site the form acts
    on, None for a global role), or the error page."""
    principal = principal_of(request)
    if principal is None:
        return _message(request, 401, "Anmelden", "login required")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        auth.require_csrf(request, principal, form.get(auth.CSRF_FIELD))
    except StarletteHTTPException as exc:
        return _message(request, 403, "Keine Berechtigung", str(exc.detail))
    site = None
    if not global_role:  # `?site=` or the form's `site` field
        domain = request.query_params.get("site") or form.get("site") or ""
        site = request.app.state.store.get_site(domain) if domain else None
    site_id = site.id if site else None
    if not principal.can(role, site_id):
        _audit(request, principal, "denied", False, request.url.path)
        return _message(request, 403, "Keine Berechtigung",
                        translator(language(request))("Keine Berechtigung"))
    return principal, form, site


def _audit(request: Request, principal: Principal | None, action: str, ok: bool = True,
           target: str | None = None, site_id: int | None = None,
           detail: dict[str, Any] | None = None) -> None:
    us.audit(request.app.state.store, action, ok, principal.name if principal else None,
             target, site_id, auth.client_network(_client(request)), detail)


def _client(request: Request) -> str | None:
    live = getattr(request.app.state, "live", None)
    peer = request.client.host if request.client else None
    if live is not None:
        return live.client_address(peer, request.headers.get("x-forwarded-for"))
    return peer


def _back(request: Request, anchor: str) -> RedirectResponse:
    site = request.query_params.get("site")
    q = f"?ok=1&site={quote(site)}" if site else "?ok=1"
    return RedirectResponse(f"/dashboard/einstellungen{q}#{anchor}", 303)


@router.post("/dashboard/einstellungen/websites")
async def add_site(request: Request) -> Response:
    got = await _form_action(request, "admin", global_role=True)
    if isinstance(got, Response):
        return got
    principal, form, _ = got
    try:
        site = await asyncio.to_thread(request.app.state.store.add_site, form.get("domain", ""),
                                       form.get("timezone") or None)
    except UserError as exc:
        return _message(request, 400, "Fehler", str(exc))
    live = getattr(request.app.state, "live", None)
    if live is not None:
        live.sites.load()
    _audit(request, principal, "site.add", target=site.domain, site_id=site.id)
    return _back(request, "websites")


@router.post("/dashboard/einstellungen/benutzer")
async def add_user(request: Request) -> Response:
    got = await _form_action(request, "admin", global_role=True)
    if isinstance(got, Response):
        return got
    principal, form, _ = got
    password = form.get("password") or None
    try:
        await asyncio.to_thread(auth.add_user, request.app.state.store, form.get("name", ""),
                                form.get("role", ""), password, form.get("site") or None,
                                principal.name)
    except UserError as exc:
        return _message(request, 400, "Fehler", str(exc))
    return _back(request, "benutzer")


@router.post("/dashboard/einstellungen/benutzer/{user_id}/sperre")
async def lock_user(request: Request, user_id: int) -> Response:
    got = await _form_action(request, "admin", global_role=True)
    if isinstance(got, Response):
        return got
    principal, form, _ = got
    store = request.app.state.store
    user = us.user_by_id(store, user_id)
    if user is None or user.id == principal.user.id:
        return _message(request, 400, "Fehler", "unknown user (or yourself)")
    disabled = form.get("disabled") == "1"
    us.set_disabled(store, user.id, disabled)
    _audit(request, principal, "user.disable" if disabled else "user.enable", target=user.name)
    return _back(request, "benutzer")


@router.post("/dashboard/einstellungen/tokens")
async def create_token(request: Request) -> Response:
    got = await _form_action(request, "admin", global_role=True)
    if isinstance(got, Response):
        return got
    principal, form, _ = got
    try:
        token, _ = await asyncio.to_thread(auth.issue_token, request.app.state.store,
                                           form.get("user", ""), form.get("label") or "api",
                                           principal.name)
    except UserError as exc:
        return _message(request, 400, "Fehler", str(exc))
    ctx, refusal = _context(request, "einstellungen")
    if refusal is not None:
        return refusal
    assert ctx is not None
    page = await asyncio.to_thread(_build, ctx, "einstellungen")
    return _render_page(request, ctx, "einstellungen", page, "settings.html", new_token=token,
                        user_names=[u.name for u in us.list_users(ctx.store)])


@router.post("/dashboard/einstellungen/tokens/{token_id}/widerruf")
async def revoke_token(request: Request, token_id: int) -> Response:
    got = await _form_action(request, "admin", global_role=True)
    if isinstance(got, Response):
        return got
    principal, _, _ = got
    from datetime import UTC, datetime

    ok = us.revoke_token(request.app.state.store, token_id,
                         datetime.now(UTC).replace(tzinfo=None))
    _audit(request, principal, "token.revoke", ok, target=str(token_id))
    return _back(request, "tokens")


def _return_to(request: Request, area: str, site: Any, **add: str) -> str:
    """The area's page again, with the query it was shown with (from the same-origin
    Referer: date range, filters), plus `add`; never another path or host."""
    path = f"/dashboard/{area}"
    params: dict[str, str] = {}
    ref = urlsplit(request.headers.get("referer") or "")
    if ref.path == path and ref.netloc in ("", request.headers.get("host", "")):
        params = {k: v for k, v in parse_qsl(ref.query) if k not in ("ok", "berechnet")}
    params["site"] = site.domain
    params.update(add)
    return f"{path}?{urlencode(params)}"


_RUNNING: set[int] = set()  # sites whose recommendations are being computed
_RUNNING_LOCK = threading.Lock()


@router.post("/dashboard/empfehlungen/berechnen")
async def recompute_recommendations(request: Request) -> Response:
    """Run the recommendation rules for the site now (seconds on big data: in a thread,
    one run per site at a time) and show the page again."""
    from amtspuls.recommend import engine

    got = await _form_action(request, "analyst")
    if isinstance(got, Response):
        return got
    principal, form, site = got
    store = request.app.state.store
    t = translator(language(request))
    if site is None:
        return _message(request, 404, "Seite nicht gefunden", t("Seite nicht gefunden"))
    back = _return_to(request, "empfehlungen", site)
    with _RUNNING_LOCK:
        busy = site.id in _RUNNING
        _RUNNING.add(site.id)
    if busy:
        return _message(request, 409, "Fehler", t(
            "Die Empfehlungen werden gerade berechnet. Bitte gleich noch einmal laden."),
            back=back)
    try:
        recs = await asyncio.to_thread(engine.run, store, site, request.app.state.settings)
    except UserError as exc:
        _audit(request, principal, "empfehlungen.run", False, site.domain, site.id,
               {"error": str(exc)})
        return _message(request, 400, "Fehler", t(str(exc)), back=back)
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(site.id)
    _audit(request, principal, "empfehlungen.run", target=site.domain, site_id=site.id,
           detail={"recommendations": len(recs)})
    return RedirectResponse(_return_to(request, "empfehlungen", site,
                                       berechnet=str(len(recs))), 303)


@router.post("/dashboard/{area}/{item_id}")
async def lifecycle(request: Request, area: str, item_id: str) -> Response:
    """Buttons of recommendations, alerts and requests: passed on to their module."""
    got = await _form_action(request, "analyst")
    if isinstance(got, Response):
        return got
    principal, form, site = got
    store = request.app.state.store
    t = translator(language(request))
    handler = _LIFECYCLE.get(area)
    if handler is None or site is None:
        return _message(request, 404, "Seite nicht gefunden", "unknown action")
    action = form.get("action") or form.get("decision")
    try:
        done = await asyncio.to_thread(handler, store, site, item_id, form, principal.name, t)
    except UserError as exc:
        _audit(request, principal, f"{area}.{action}", False, item_id, site.id,
               {"error": str(exc)})
        return _message(request, 400, "Fehler", t(str(exc)),
                        back=_return_to(request, area, site))
    if not done:
        return _message(request, 404, "Seite nicht gefunden",
                        t("Dieses Modul ist in dieser Installation noch nicht verfügbar."))
    _audit(request, principal, f"{area}.{action}", target=item_id, site_id=site.id)
    return RedirectResponse(_return_to(request, area, site, ok="1"), 303)


REC_ACTIONS = ("accepted", "done", "dismissed", "open")


def _recommendation_action(store: Any, site: Any, item_id: str, form: dict[str, str],
                           actor: str, t: Callable[..., str]) -> bool:
    """annehmen / erledigt (with the day it went live) / verwerfen (with a reason) /
    wieder öffnen: `recommend.engine.set_status`, checked first so that the German
    dashboard answers in German."""
    from amtspuls.recommend import engine

    status = form.get("action", "")
    if status not in REC_ACTIONS:
        raise UserError(t("Unbekannte Aktion."))
    try:
        current = engine.get_recommendation(store, site, item_id)["status"]
    except UserError:
        raise UserError(t("Diese Empfehlung gibt es nicht (mehr).")) from None
    if status != current and status not in engine.TRANSITIONS.get(current, ()):
        raise UserError(t("Diese Aktion ist im Status „{status}“ nicht möglich.",
                          status=t(dict(P.REC_STATUSES).get(current, current))))
    reason = (form.get("reason") or "").strip() or None
    if status == "dismissed" and not reason:
        raise UserError(t("Zum Verwerfen bitte einen Grund angeben."))
    if reason and len(reason) > 500:
        raise UserError(t("Der Grund ist länger als 500 Zeichen."))
    effective = None
    if status == "done" and (form.get("effective") or "").strip():
        try:
            effective = date.fromisoformat(form["effective"].strip())
        except ValueError:
            raise UserError(t("„umgesetzt am“ ist kein gültiges Datum.")) from None
    engine.set_status(store, site, item_id, status, actor,
                      reason=reason if status == "dismissed" else None, effective=effective)
    return True


def _alert_action(store: Any, site: Any, item_id: str, form: dict[str, str], actor: str,
                  t: Callable[..., str]) -> bool:
    """bestätigen (acknowledge) / schließen (close) an alert of this site."""
    if not item_id.isdigit():
        raise UserError(t("Diese Warnung gibt es nicht."))
    set_alert_status(store, int(item_id), form.get("action", ""), actor, site_id=site.id)
    return True


def _request_action(store: Any, site: Any, item_id: str, form: dict[str, str],
                    actor: str, t: Callable[..., str]) -> bool:
    """Confirm a request's triage suggestion (a review), or close the request."""
    from datetime import UTC, datetime

    mod = P.optional("amtspuls.store.requests_store")
    if mod is None:
        return False
    rs = mod.RequestStore(store)
    if rs.get_request(site.id, item_id) is None:
        raise UserError(f"no request {item_id!r}")
    action = form.get("action", "")
    if action == "confirm":
        suggested = rs.triage_of(site.id, [item_id]).get(item_id)
        rs.add_review(site.id, item_id, "confirm", service_id=None, priority=None,
                      duplicate_of=None, reviewer=actor, note=None,
                      suggested=_jsonable(suggested))
    elif action == "closed":
        rs.set_status(site.id, item_id, "closed", None, datetime.now(UTC).replace(tzinfo=None))
    else:
        raise UserError(f"unknown action {action!r}")
    return True


def _jsonable(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str)) if value is not None else None


_LIFECYCLE: dict[str, Callable[..., bool]] = {
    "empfehlungen": _recommendation_action,
    "fruehwarnung": _alert_action,
    "anliegen": _request_action,
}


# -- public transparency page ------------------------------------------------------------

def transparency(request: Request) -> tuple[Page, Any]:
    store = request.app.state.store
    settings = request.app.state.settings
    k = int(settings.k_anonymity)
    lang = language(request)
    t = translator(lang)
    sites = store.list_sites()
    wanted = request.query_params.get("site")
    site = next((s for s in sites if s.domain == wanted), sites[0] if sites else None)
    page = Page("transparenz", f"{t('Öffentliche Statistik der Website')}"
                + (f" {site.domain}" if site else ""))
    if site is None:
        return page, None
    d_from, d_to = local_range(site, None, None, store)
    ov = run_report(store, site, "overview", d_from, d_to, "day", k)
    page.intro = t("Nur zusammengefasste Zahlen; Zeilen mit weniger als {k} Besuchern werden "
                   "nicht gezeigt.", k=k)
    page.sections.append(Section("zahlen", f"{t('letzte 30 Tage')}: {d_from} – {d_to}", kpis=[
        Kpi("visits", t("Besuche"), suppress_small(ov["visits"], k)),
        Kpi("pageviews", t("Seitenaufrufe"), suppress_small(ov["pageviews"], k)),
        Kpi("searches", t("Suchen"), suppress_small(ov["searches"], k))],
        text=page.intro))
    svc = [{"name": r["name"], "visits": r.get("visits"), "visitors": r.get("visitors")}
           for r in P.service_rows(store, site, k, d_from, d_to) if "folded_rows" not in r]
    page.sections.append(Section("leistungen", t("Meistgefragte Leistungen"), tables=[
        Table("leistungen", t("Meistgefragte Leistungen"),
              [Col("name", t("Leistung")), Col("visits", t("Besuche"), "int")],
              svc[:20], export=False)]))
    search = P.search_data(store, site, k, d_from, d_to)
    page.sections.append(Section("suchen", t("Häufigste Suchen"), tables=[
        Table("suchen", t("Häufigste Suchen"),
              [Col("query", t("Suchbegriff")), Col("searches", t("Suchen"), "int")],
              [{"query": r["query"], "searches": r["searches"], "visitors": r.get("visitors")}
               for r in search["top_queries"] if "folded_rows" not in r][:20], export=False)]))
    devices = run_report(store, site, "devices", d_from, d_to, "day", k)
    page.sections.append(Section("geraete", t("Geräte"), tables=[
        Table("geraete", t("Geräte"), [Col("name", t("Gerät")), Col("visits", t("Besuche"),
                                                                     "int")],
              devices["devices"], export=False),
        Table("browser", t("Browser"), [Col("name", t("Browser")),
                                        Col("visits", t("Besuche"), "int")],
              devices["browsers"], export=False)]))
    for table in page.tables().values():
        table.guard(k)
    return page, site


@router.get("/transparenz")
def transparency_page(request: Request) -> Response:
    if not request.app.state.settings.transparency_page:
        return _message(request, 404, "Seite nicht gefunden",
                        translator(language(request))("Seite nicht gefunden"))
    page, site = transparency(request)
    lang = language(request)
    return render(request, "transparency.html", lang=lang, title=page.title, page=page,
                  ctx=None, show_nav=False, here=_here(request), export=lambda _t: None,
                  action_path="/transparenz", footer_site=site.domain if site else "",
                  flash=None)


# -- static files (own origin only) ------------------------------------------------------

@router.get("/static/dashboard/{name}")
def static_file(request: Request, name: str) -> Response:
    kind = STATIC.get(name)
    if kind is None:
        return PlainTextResponse("not found", 404)
    if name not in _static_cache:
        body = resources.files("amtspuls.serve").joinpath("static", "dashboard", name)
        data = body.read_bytes()
        _static_cache[name] = (data, '"' + hashlib.sha256(data).hexdigest()[:16] + '"')
    data, etag = _static_cache[name]
    headers = {"etag": etag, "cache-control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=kind, headers=headers)
