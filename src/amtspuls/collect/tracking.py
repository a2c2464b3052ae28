"""Live tracking requests in three wire formats, read into one shape.

* Matomo's tracking API (`/matomo.php`, `/piwik.php`; single and bulk requests),
* Plausible's Events API (`/api/event`),
* amtspuls's own tracker (`/api/collect`).

Each request becomes `Tracked` items: the site as the client named it and an event
object in the form `collect.events.event_row` validates (type, url, title, query, …).
The server adds what the client must not decide: time, client address and user agent.
Anything else a client sends is dropped here, in particular Matomo's visitor and user
ids (`_id`, `uid`, `cid`, `_idts`, …), custom variables and dimensions, and Plausible's
props (all free-form, so possibly personal).

Everything here is pure (no I/O): the parsing is fuzzed on its own. Bad input raises
`BadEvent` with a reason the endpoint returns as `{"error": "…"}`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from amtspuls.collect.events import BadEvent

MAX_BULK = 1000  # requests in one Matomo bulk request / events in one collect request
MAX_PARAM = 4096  # characters of one parameter value that are looked at

# Plausible's short keys (its script sends these) and the long ones of its Events API.
_PLAUSIBLE_KEYS = {"n": "name", "u": "url", "d": "domain", "r": "referrer", "p": "props",
                   "m": "props", "e": "engagement_time"}
# Plausible's standard custom events (its script's file-download, outbound-link and 404
# extensions) and what they are here.
_PLAUSIBLE_NAMES = {"pageview": "pageview", "404": "not_found", "File Download": "download",
                    "Outbound Link: Click": "outlink", "engagement": "engagement"}
# What a client of /api/collect may set (`ts`, `ip` and `ua` are the server's).
_COLLECT_KEYS = ("type", "url", "referrer", "title", "query", "results", "category",
                 "target", "form", "field", "engagement_ms", "name", "action", "value")


@dataclass(slots=True)
class Tracked:
    """One event as the client sent it, before the server adds time, address and agent."""

    site: str  # domain or numeric site id, as sent
    event: dict[str, Any]  # event object (events.py shape) without ts, ip, ua
    ua: str | None = None  # the client's own user-agent override (Matomo `ua`)
    ip: str | None = None  # authenticated override of the client address (Matomo `cip`)
    ts: datetime | None = None  # authenticated override of the time (Matomo `cdt`)


def _str(value: Any, limit: int = MAX_PARAM) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadEvent("parameters must be strings")
    text = str(value)[:limit]
    return text if text.strip() else None


# -- Matomo ------------------------------------------------------------------------------

def matomo_params(query: str) -> dict[str, str]:
    """Parameters of one request URL (`?idsite=1&…`, `/matomo.php?…` or a bare query)."""
    if len(query) > 65536:
        raise BadEvent("request too long")
    if "?" in query:
        query = query.split("?", 1)[1]
    try:
        return dict(parse_qsl(query, keep_blank_values=True, max_num_fields=400))
    except ValueError:
        raise BadEvent("too many parameters") from None


def matomo_bulk(body: Any) -> tuple[list[str], str | None]:
    """The request strings and token of a bulk request `{"requests": [...]}`."""
    if not isinstance(body, dict) or "requests" not in body:
        raise BadEvent('a bulk request is a JSON object {"requests": ["?idsite=…", …]}')
    requests = body["requests"]
    if not isinstance(requests, list) or not all(isinstance(r, str) for r in requests):
        raise BadEvent("requests must be a list of request strings")
    if not requests:
        raise BadEvent("requests is empty")
    if len(requests) > MAX_BULK:
        raise BadEvent(f"at most {MAX_BULK} requests in one bulk request")
    token = body.get("token_auth")
    return requests, token if isinstance(token, str) else None


def _matomo_time(value: str, now: datetime) -> datetime:
    """`cdt`: a UNIX timestamp or 'YYYY-MM-DD HH:MM:SS' (UTC), not in the future."""
    try:
        if value.replace(".", "", 1).isdigit():
            ts = datetime.fromtimestamp(float(value), UTC)
        else:
            ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
            ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise BadEvent(f"cdt is not a time: {value[:40]!r}") from None
    if ts > now + timedelta(minutes=10):
        raise BadEvent("cdt is in the future")
    return ts


def parse_matomo(params: Mapping[str, str], token_ok: Callable[[str | None], bool],
                 now: datetime | None = None) -> Tracked | None:
    """One Matomo tracking request; None for a request that records nothing here
    (heartbeat pings, content impressions, goal and e-commerce requests)."""
    get = params.get
    idsite = (get("idsite") or "").strip()
    if not idsite:
        raise BadEvent("idsite is required")
    if not idsite.isdigit() or len(idsite) > 9 or int(idsite) < 1:
        raise BadEvent(f"idsite must be a positive whole number, got {idsite[:20]!r}")
    if (get("rec") or "").strip() != "1":
        raise BadEvent("rec=1 is required (as Matomo's tracker sends it)")
    if get("ping") == "1" or get("idgoal") or get("ec_id") or (
        get("c_n") and not get("e_c")
    ):
        return None
    url = _str(get("url"))
    if url is None:
        raise BadEvent("url is required")
    event: dict[str, Any] = {"url": url, "referrer": _str(get("urlref")),
                             "title": _str(get("action_name"), 300)}
    if get("search") is not None and _str(get("search")) is not None:
        event.update(type="search", query=_str(get("search"), 300),
                     category=_str(get("search_cat"), 100), results=get("search_count"))
    elif _str(get("download")) is not None:
        event.update(type="download", target=_str(get("download")))
    elif _str(get("link")) is not None:
        event.update(type="outlink", target=_str(get("link")))
    elif _str(get("e_c")) is not None or _str(get("e_a")) is not None:
        if _str(get("e_c")) is None or _str(get("e_a")) is None:
            raise BadEvent("an event needs both e_c (category) and e_a (action)")
        event.update(type="custom", category=_str(get("e_c"), 100),
                     action=_str(get("e_a"), 100), name=_str(get("e_n"), 200),
                     value=get("e_v") or None)
    else:
        event["type"] = "pageview"
    tracked = Tracked(site=idsite, event=event, ua=_str(get("ua"), 1024))
    # Matomo lets only an authenticated sender set the client address and time.
    if get("cip") is not None or get("cdt") is not None:
        token = get("token_auth")
        if token_ok(token):
            tracked.ip = _str(get("cip"), 64)
            if _str(get("cdt")) is not None:
                tracked.ts = _matomo_time(get("cdt", ""), now or datetime.now(UTC))
        elif token:
            raise BadEvent("token_auth is not valid (needed for cip and cdt)")
    return tracked


# -- Plausible ---------------------------------------------------------------------------

def parse_plausible(body: Any) -> list[Tracked]:
    """One Plausible event (`{"name", "url", "domain", "referrer", "props"}` or the short
    keys of its script); one item per domain of a comma-separated `domain`."""
    if not isinstance(body, dict):
        raise BadEvent("the body must be a JSON object")
    data = {_PLAUSIBLE_KEYS.get(k, k): v for k, v in body.items()}
    name = _str(data.get("name"), 120)
    if name is None:
        raise BadEvent("name is required")
    url = _str(data.get("url"))
    if url is None:
        raise BadEvent("url is required")
    domains = _str(data.get("domain"), 1000)
    if domains is None:
        raise BadEvent("domain is required")
    props = data.get("props")
    if isinstance(props, str):  # the script may send props as a JSON string
        props = None
    if props is not None and not isinstance(props, dict):
        raise BadEvent("props must be an object")
    kind = _PLAUSIBLE_NAMES.get(name, "custom")
    event: dict[str, Any] = {"type": kind, "url": url, "referrer": _str(data.get("referrer"))}
    if kind in ("download", "outlink"):
        target = _str((props or {}).get("url")) if props else None
        if target is None:
            raise BadEvent(f"{name!r} needs props.url")
        event["target"] = target
    elif kind == "engagement":
        event["engagement_ms"] = data.get("engagement_time")
    elif kind == "custom":
        event["name"] = name
    return [Tracked(site=d.strip(), event=dict(event))
            for d in domains.split(",")[:10] if d.strip()]


# -- amtspuls's own tracker --------------------------------------------------------------

def parse_collect(body: Any) -> list[Tracked]:
    """`{"site": …, "type": …, …}` or `{"site": …, "events": [{…}, …]}` (an event may
    name its own `site`)."""
    if not isinstance(body, dict):
        raise BadEvent("the body must be a JSON object")
    default_site = body.get("site")
    if "events" in body:
        events = body["events"]
        if not isinstance(events, list) or not events:
            raise BadEvent("events must be a non-empty list")
        if len(events) > MAX_BULK:
            raise BadEvent(f"at most {MAX_BULK} events in one request")
    else:
        events = [body]
    out = []
    for i, obj in enumerate(events):
        where = f"events[{i}]: " if "events" in body else ""
        if not isinstance(obj, dict):
            raise BadEvent(f"{where}an event must be a JSON object")
        site = obj.get("site", default_site)
        if isinstance(site, bool) or not isinstance(site, str | int) or str(site).strip() == "":
            raise BadEvent(f"{where}site is required (domain or numeric id)")
        out.append(Tracked(site=str(site).strip(),
                           event={k: obj[k] for k in _COLLECT_KEYS if k in obj}))
    return out
