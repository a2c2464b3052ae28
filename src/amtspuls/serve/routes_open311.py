"""Open311 GeoReport v2 under `/open311/v2/`: discovery, services, service definitions,
posting and reading requests, tokens — in JSON and XML (the format is the path's
extension; none means JSON). Errors are the spec's list of `{code, description}` with
400, 403 or 404. `jurisdiction_id` is a site's domain (default: the first site).

Every request carries the extension field `triage` (category, priority with reasons,
duplicate incident, department): suggestions for a clerk, not decisions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from amtspuls import __version__
from amtspuls.analyze.triage.config import config_for
from amtspuls.analyze.triage.engine import public_view
from amtspuls.analyze.triage.intake import submit_request
from amtspuls.collect.open311 import IncomingRequest, Reject, parse_coord, parse_time
from amtspuls.model import Site
from amtspuls.store.requests_store import RequestStore

router = APIRouter(prefix="/open311/v2", tags=["open311"])

SPEC = "http://wiki.open311.org/GeoReport_v2"
DEFAULT_DAYS = 90
MAX_SPAN_DAYS = 90
DEFAULT_LIMIT = 1000
MAX_TEXT = 10_000


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


# --------------------------------------------------------------------------- output

_ITEM = {"services": "service", "service_requests": "request", "errors": "error",
         "endpoints": "endpoint", "formats": "format", "attributes": "attribute",
         "values": "value", "category": "suggestion", "priority_reasons": "reason",
         "duplicates": "duplicate"}


def _xml_value(name: str, value: Any) -> str:
    if value is None:
        return f"<{name}/>" if name else ""
    if isinstance(value, dict):
        inner = "".join(_xml_value(k, v) for k, v in value.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, list):
        item = _ITEM.get(name, "item")
        inner = "".join(_xml_value(item, v) for v in value)
        return f"<{name}>{inner}</{name}>"
    text = ("true" if value else "false") if isinstance(value, bool) else escape(str(value))
    return f"<{name}>{text}</{name}>"


def render(fmt: str, root: str, body: Any, status: int = 200) -> Response:
    if fmt == "xml":
        if isinstance(body, list):
            item = _ITEM.get(root, "item")
            inner = "".join(_xml_value(item, v) for v in body)
            xml = f"<{root}>{inner}</{root}>"
        else:
            xml = _xml_value(root, body)
        return Response('<?xml version="1.0" encoding="utf-8"?>\n' + xml, status_code=status,
                        media_type="text/xml; charset=utf-8")
    import json

    return Response(json.dumps(body, ensure_ascii=False, default=str), status_code=status,
                    media_type="application/json; charset=utf-8")


def error(fmt: str, code: int, description: str) -> Response:
    return render(fmt, "errors", [{"code": code, "description": description}], status=code)


def split_format(name: str) -> tuple[str, str]:
    """`requests.json` → ("requests", "json"); no known extension → JSON."""
    base, dot, ext = name.rpartition(".")
    if dot and ext.lower() in ("json", "xml"):
        return base, ext.lower()
    return name, "json"


def _iso(t: datetime | None, tz: str) -> str | None:
    if t is None:
        return None
    return t.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- helpers

def _site(request: Request, params: dict[str, str]) -> Site:
    store = request.app.state.store
    jid = (params.get("jurisdiction_id") or "").strip()
    if jid:
        site = store.get_site(jid) if _plausible_domain(jid) else None
        if site is None:
            raise Open311Error(404, f"jurisdiction_id not found: {jid}")
        return site
    sites = store.list_sites()
    if not sites:
        raise Open311Error(404, "no jurisdiction is set up yet (amtspuls site add DOMAIN)")
    return sites[0]


def _plausible_domain(d: str) -> bool:
    return 0 < len(d) <= 253 and not any(c.isspace() or c == "/" for c in d)


def _service_json(svc) -> dict[str, Any]:
    return {
        "service_code": svc.id,
        "service_name": svc.name,
        "description": svc.description,
        "metadata": bool(svc.attributes),
        "type": "realtime",
        "keywords": ", ".join(svc.keywords[:12]),
        "group": svc.group,
    }


def request_json(r: dict[str, Any], triage: dict | None, names: dict[str, str],
                 tz: str) -> dict[str, Any]:
    return {
        "service_request_id": r["service_request_id"],
        "status": r["status"],
        "status_notes": r.get("status_notes"),
        "service_name": names.get(r["service_id"], r.get("external_category")),
        "service_code": r["service_id"] if r["service_id"] != "none" else None,
        "description": r.get("description"),
        "agency_responsible": r.get("agency_responsible"),
        "service_notice": None,
        "requested_datetime": _iso(r["requested_datetime"], tz),
        "updated_datetime": _iso(r.get("updated_datetime"), tz),
        "expected_datetime": _iso(r.get("expected_datetime"), tz),
        "address": r.get("address_string"),
        "address_id": None,
        "zipcode": r.get("zipcode"),
        "lat": r.get("lat"),
        "long": r.get("long"),
        "media_url": r.get("media_url"),
        "triage": public_view(triage) if triage else None,
    }


def _catalogue_names(settings) -> dict[str, str]:
    from amtspuls.catalog import by_id

    return {s.id: s.name_de for s in by_id().values()}


# --------------------------------------------------------------------------- endpoints

@router.get("/discovery{ext:path}")
def discovery(request: Request, ext: str = "") -> Response:
    _, fmt = split_format("discovery" + ext)
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    body = {
        "changeset": "2026-01-01T00:00:00Z",
        "contact": "Bitte wenden Sie sich an die Stadtverwaltung.",
        "key_service": "API-Schlüssel gibt die Verwaltung aus (amtspuls requests api-key add).",
        "endpoints": [{
            "specification": SPEC,
            "url": base,
            "changeset": "2026-01-01T00:00:00Z",
            "type": "production",
            "formats": ["application/json", "text/xml"],
        }],
        "amtspuls_version": __version__,
    }
    return render(fmt, "discovery", body)


@router.get("/services{ext:path}")
def services(request: Request, ext: str = "") -> Response:
    name, fmt = split_format("services" + ext)
    params = dict(request.query_params)
    try:
        if name == "services":
            _site(request, params)
            cfg = config_for(request.app.state.settings)
            return render(fmt, "services", [_service_json(s) for s in cfg.services.values()])
        code = name.removeprefix("services/")
        if not code or "/" in code:
            raise Open311Error(404, "not found")
        return _definition(request, params, code, fmt)
    except Open311Error as e:
        return error(fmt, e.code, e.description)


def _definition(request: Request, params: dict[str, str], code: str, fmt: str) -> Response:
    _site(request, params)
    svc = config_for(request.app.state.settings).services.get(code)
    if svc is None:
        raise Open311Error(404, f"service_code not found: {code}")
    attrs = [{
        "variable": True,
        "code": a.code,
        "datatype": a.datatype,
        "required": a.required,
        "datatype_description": None,
        "order": a.order,
        "description": a.description,
        "values": [{"key": v, "name": v} for v in a.values],
    } for a in svc.attributes]
    return render(fmt, "service_definition", {"service_code": svc.id, "attributes": attrs})


@router.get("/tokens/{name}")
def token(request: Request, name: str) -> Response:
    tok, fmt = split_format(name)
    try:
        site = _site(request, dict(request.query_params))
        got = RequestStore(request.app.state.store).by_token(site.id, tok)
        if got is None:
            raise Open311Error(404, f"token not found: {tok}")
        return render(fmt, "service_requests", [got])
    except Open311Error as e:
        return error(fmt, e.code, e.description)


@router.get("/requests/{name}")
def one_request(request: Request, name: str) -> Response:
    rid, fmt = split_format(name)
    try:
        site = _site(request, dict(request.query_params))
        store = request.app.state.store
        rs = RequestStore(store)
        r = rs.get_request(site.id, rid)
        if r is None:
            raise Open311Error(404, f"service_request_id not found: {rid}")
        tri = rs.triage_of(site.id, [rid]).get(rid)
        names = _catalogue_names(request.app.state.settings)
        return render(fmt, "service_requests", [request_json(r, tri, names, site.timezone)])
    except Open311Error as e:
        return error(fmt, e.code, e.description)


def _dates(params: dict[str, str], tz: str) -> tuple[datetime, datetime]:
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        start = parse_time(params["start_date"], tz) if params.get("start_date") else None
        end = parse_time(params["end_date"], tz) if params.get("end_date") else None
    except Reject as r:
        raise Open311Error(400, f"start_date/end_date: {r.detail}") from None
    if start is None and end is None:
        end = now
        start = now - timedelta(days=DEFAULT_DAYS)
    elif start is None:
        start = end - timedelta(days=DEFAULT_DAYS)
    elif end is None:
        end = start + timedelta(days=DEFAULT_DAYS)
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if end - start > timedelta(days=MAX_SPAN_DAYS):
        raise Open311Error(400, f"start_date and end_date may not span more than "
                                f"{MAX_SPAN_DAYS} days")
    return start, end


@router.get("/requests{ext:path}")
def list_requests(request: Request, ext: str = "") -> Response:
    name, fmt = split_format("requests" + ext)
    if name != "requests":
        return error(fmt, 404, "not found")
    params = dict(request.query_params)
    try:
        site = _site(request, params)
        store = request.app.state.store
        rs = RequestStore(store)
        settings = request.app.state.settings
        ids = [x.strip() for x in (params.get("service_request_id") or "").split(",") if x.strip()]
        if ids:  # the spec: other parameters are ignored then
            rows = rs.list_requests(site.id, ids=ids)
        else:
            codes = [x.strip() for x in (params.get("service_code") or "").split(",")
                     if x.strip()]
            known = set(config_for(settings).departments)
            unknown = [c for c in codes if c not in known]
            if unknown:
                raise Open311Error(404, f"service_code not found: {unknown[0]}")
            statuses = [x.strip().lower() for x in (params.get("status") or "").split(",")
                        if x.strip()]
            bad = [s for s in statuses if s not in ("open", "closed")]
            if bad:
                raise Open311Error(400, f"status must be open or closed, got {bad[0]!r}")
            start, end = _dates(params, site.timezone)
            rows = rs.list_requests(site.id, service_codes=codes or None,
                                    statuses=statuses or None, start=start, end=end,
                                    limit=DEFAULT_LIMIT)
        tri = rs.triage_of(site.id, [r["service_request_id"] for r in rows]) if rows else {}
        names = _catalogue_names(settings)
        body = [request_json(r, tri.get(r["service_request_id"]), names, site.timezone)
                for r in rows]
        return render(fmt, "service_requests", body)
    except Open311Error as e:
        return error(fmt, e.code, e.description)


@router.post("/requests{ext:path}")
async def post_request(request: Request, ext: str = "") -> Response:
    name, fmt = split_format("requests" + ext)
    if name != "requests":
        return error(fmt, 404, "not found")
    try:
        form = await request.form()
    except Exception:
        return error(fmt, 400, "expected a form-encoded body (application/x-www-form-urlencoded)")
    fields = {k: str(v) for k, v in form.multi_items() if isinstance(v, str)}
    try:
        return await asyncio.to_thread(_post, request, fields, fmt)
    except Open311Error as e:
        return error(fmt, e.code, e.description)


def _post(request: Request, f: dict[str, str], fmt: str) -> Response:
    store = request.app.state.store
    settings = request.app.state.settings
    rs = RequestStore(store)
    if rs.check_api_key(f.get("api_key")) is None:
        raise Open311Error(403, "api_key was not provided or is invalid")
    site = _site(request, f)
    code = (f.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code was not provided")
    svc = config_for(settings).services.get(code)
    if svc is None:
        raise Open311Error(404, f"service_code not found: {code}")
    try:
        lat = parse_coord(f.get("lat"), -90, 90, "lat")
        lon = parse_coord(f.get("long"), -180, 180, "long")
    except Reject as r:
        raise Open311Error(400, r.detail) from None
    address = (f.get("address_string") or "").strip() or None
    address_id = (f.get("address_id") or "").strip() or None
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long must be given together")
    if lat is None and not address and not address_id:
        raise Open311Error(400, "a location is required: lat and long, address_string or "
                                "address_id")
    attributes: dict[str, Any] = {}
    for k, v in f.items():
        if k.startswith("attribute[") and k.endswith("]"):
            attributes[k[len("attribute["):-1]] = v
    for a in svc.attributes:
        value = attributes.get(a.code)
        if a.required and not (value or "").strip():
            raise Open311Error(400, f"required attribute missing: {a.code}")
        if value and a.values and a.datatype == "singlevaluelist" and value not in a.values:
            raise Open311Error(400, f"attribute {a.code}: {value!r} is not one of its values")
    unknown = [k for k in attributes if k not in {a.code for a in svc.attributes}]
    if unknown:
        raise Open311Error(400, f"unknown attribute: {unknown[0]}")
    desc = (f.get("description") or "")[:MAX_TEXT]
    media = (f.get("media_url") or "").strip() or None
    if media and not media.lower().startswith(("http://", "https://")):
        raise Open311Error(400, "media_url must be an http(s) URL")
    contact = {k: f[k].strip() for k in ("email", "first_name", "last_name", "phone",
                                         "device_id", "account_id") if f.get(k, "").strip()}
    now = datetime.now(UTC).replace(tzinfo=None)
    req = IncomingRequest(
        service_request_id=None, description_raw=desc, text=desc.strip(), requested=now,
        service_code=code, lat=lat, long=lon,
        address_string=address or (f"address_id:{address_id}" if address_id else None),
        media_url=media, attributes=attributes, contact=contact,
    )
    rec, tri = submit_request(store, site, settings, req)
    body = [{
        "service_request_id": rec["service_request_id"],
        "token": rec["token"],
        "service_notice": f"Zuständig: {tri.get('department') or svc.department}",
        "account_id": None,
    }]
    return render(fmt, "service_requests", body)


async def startup(app) -> None:
    """Load the category models in the background, so the first request is fast."""
    from amtspuls.analyze.triage.engine import current_model

    def warm() -> None:
        try:
            for site in app.state.store.list_sites():
                current_model(app.state.store, site, app.state.settings)
        except Exception:  # a cold model is loaded at first use instead
            pass

    app.state.open311_warmup = asyncio.get_running_loop().run_in_executor(None, warm)
