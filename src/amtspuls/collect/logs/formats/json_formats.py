"""JSON access logs, one object per line: nginx `log_format … escape=json` (Matomo's
documented field names and nginx variable names), Caddy v2, Traefik.

A line may carry a docker-compose prefix (`caddy  | {…}`, optionally followed by the
timestamp `docker compose logs -t` adds). Entries that are valid log lines of the
server but no request (Caddy's startup messages, Traefik's own logs) are skipped as
`non_access`, not malformed.
"""

from __future__ import annotations

import re

import orjson

from amtspuls.collect.logs.formats.fields import (
    LineFormat,
    Row,
    Skip,
    clf_us,
    client_ip,
    epoch_number_us,
    first_header,
    iso_us,
    join_query,
    nz,
    split_request,
    split_url,
    strip_port,
    to_bytes,
    to_status,
)
from amtspuls.collect.logs.formats.registry import register_format

NON_ACCESS = Skip("non_access")

_COMPOSE_PREFIX = re.compile(r"[\w.@-]+\s+\|\s?(?:\d{4}-\d\d-\d\dT[\d:.]+Z?\s+)?$")
_WALL = re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d")


def load_object(line: str) -> dict | None:
    """The JSON object of a line, after an optional docker-compose prefix."""
    start = line.find("{")
    if start < 0:
        return None
    if start and not _COMPOSE_PREFIX.match(line[:start]):
        return None
    try:
        obj = orjson.loads(line[start:])
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def any_time_us(value: object, tz) -> int | None:
    """A timestamp in any of the forms JSON access logs use: a Unix time (s, ms, µs, ns),
    ISO 8601, Apache's '10/Feb/2012:16:42:07 -0500', or Caddy's 'wall' form."""
    if type(value) is str and len(value) > 18 and value[4] == "-" and value[10] in "T ":
        return iso_us(value, tz)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return epoch_number_us(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text[0].isdigit() and text.replace(".", "", 1).isdigit():
        return epoch_number_us(text)
    if "/" in text[:6]:
        return clf_us(text, tz)
    if _WALL.match(text):
        text = text.replace("/", "-", 2)
    return iso_us(text, tz)


class NginxJson(LineFormat):
    """nginx (or any server) writing one JSON object per request with Matomo's field
    names (`ip host path status referrer user_agent length date`) or nginx's own
    variable names (`remote_addr request time_iso8601 body_bytes_sent …`)."""

    name = "nginx_json"
    priority = 60
    weak_reasons = frozenset({"non_access"})

    ROLES: dict[str, tuple[str, ...]] = {
        "time": ("date", "time_iso8601", "@timestamp", "timestamp", "time", "msec",
                 "time_local", "ts"),
        "ip": ("ip", "remote_addr", "client_ip", "clientip", "remote_ip", "client",
               "realip_remote_addr"),
        "xff": ("http_x_forwarded_for", "x_forwarded_for", "xff", "forwarded_for"),
        "host": ("host", "http_host", "server_name", "vhost", "hostname"),
        "path": ("path", "request_uri", "url", "uri"),
        "method": ("method", "request_method", "verb"),
        "status": ("status", "status_code", "response", "response_code"),
        "bytes": ("length", "body_bytes_sent", "bytes_sent", "size", "bytes", "response_size"),
        "referrer": ("referrer", "referer", "http_referer", "http_referrer"),
        "agent": ("user_agent", "http_user_agent", "agent", "useragent", "ua"),
    }

    def __init__(self) -> None:
        # The key of each role in an object, per key set (a file has one or a few).
        self._plans: dict[tuple[str, ...], tuple[str | None, ...]] = {}

    def _plan(self, obj: dict) -> tuple[str | None, ...]:
        shape = tuple(obj)
        plan = self._plans.get(shape)
        if plan is None:
            plan = tuple(next((k for k in keys if k in obj), None)
                         for keys in self.ROLES.values())
            if len(self._plans) < 1000:
                self._plans[shape] = plan
        return plan

    def parse_line(self, line: str) -> Row | Skip | None:
        obj = load_object(line)
        if obj is None:
            return None
        k_time, k_ip, k_xff, k_host, k_path, k_method, k_status, k_bytes, k_ref, k_agent = (
            self._plan(obj))
        get = obj.get
        request = get("request")
        method, url = split_request(request) if type(request) is str else (None, None)
        path = get(k_path) if k_path else None
        if type(path) is str and path:
            url = path
            if k_path == "uri" and type(get("args")) is str:
                url = join_query(path, nz(obj["args"]))
        ip_value = nz(get(k_ip)) if k_ip else None
        if url is None and method is None:
            if ip_value is None and ("msg" in obj or "message" in obj or "level" in obj):
                return NON_ACCESS
            return None
        if ip_value is None and "status" not in obj:
            return None
        ts = any_time_us(get(k_time), self.local_tz) if k_time else None
        if ts is None:
            return None
        if k_method:
            method = nz(get(k_method)) or method
        host = nz(get(k_host)) if k_host else None
        if url is not None and "://" in url[:12]:
            url_host, url = split_url(url)
            host = host or url_host
        return (
            ts,
            client_ip(nz(get(k_xff)) if k_xff else None, ip_value),
            nz(get(k_agent)) if k_agent else None,
            host,
            method,
            url,
            to_status(get(k_status)) if k_status else None,
            to_bytes(get(k_bytes)) if k_bytes else None,
            nz(get(k_ref)) if k_ref else None,
        )


class CaddyJson(LineFormat):
    """Caddy v2 structured logs: access entries (`logger` http.log.access…) become hits;
    every other Caddy entry (startup, TLS, admin) is a valid line skipped as non_access."""

    name = "caddy_json"
    priority = 60

    def parse_line(self, line: str) -> Row | Skip | None:
        obj = load_object(line)
        if obj is None:
            return None
        request = obj.get("request")
        logger = obj.get("logger")
        is_access = isinstance(request, dict) and (
            "status" in obj or (isinstance(logger, str) and logger.startswith("http.log.access"))
        )
        if not is_access:
            if "ts" in obj and ("msg" in obj or "level" in obj):
                return NON_ACCESS
            return None
        ts = any_time_us(obj.get("ts"), self.local_tz)
        if ts is None:
            return None
        headers = request.get("headers")
        client = nz(request.get("client_ip"))
        if client is None:
            peer = nz(request.get("remote_ip")) or nz(request.get("remote_addr"))
            client = client_ip(first_header(headers, "X-Forwarded-For"),
                               strip_port(peer) if peer else None)
        else:
            client = client_ip(client)
        uri = nz(request.get("uri"))
        return (
            ts,
            client,
            first_header(headers, "User-Agent"),
            nz(request.get("host")),
            nz(request.get("method")),
            uri,
            to_status(obj.get("status")),
            to_bytes(obj.get("size")),
            first_header(headers, "Referer"),
        )


class TraefikJson(LineFormat):
    """Traefik's JSON access log (`accessLog.format: json`). User agent and referrer are
    there only when Traefik is told to keep those headers (`request_User-Agent`)."""

    name = "traefik_json"
    priority = 60
    weak_reasons = frozenset({"non_access"})

    def parse_line(self, line: str) -> Row | Skip | None:
        obj = load_object(line)
        if obj is None:
            return None
        if "RequestMethod" not in obj and "RequestPath" not in obj:
            if "level" in obj and ("msg" in obj or "time" in obj):
                return NON_ACCESS
            return None
        ts = None
        for key in ("StartUTC", "StartLocal", "time"):
            value = obj.get(key)
            if isinstance(value, str) and value:
                ts = iso_us(value, self.local_tz)
                if ts is not None:
                    break
        if ts is None:
            return None
        peer = nz(obj.get("ClientHost"))
        if peer is None and isinstance(obj.get("ClientAddr"), str):
            peer = strip_port(obj["ClientAddr"])
        status = obj.get("DownstreamStatus")
        if status is None:
            status = obj.get("OriginStatus")
        size = obj.get("DownstreamContentSize")
        if size is None:
            size = obj.get("OriginContentSize")
        return (
            ts,
            client_ip(nz(obj.get("request_X-Forwarded-For")), peer),
            nz(obj.get("request_User-Agent")),
            nz(obj.get("RequestHost")) or nz(obj.get("RequestAddr")),
            nz(obj.get("RequestMethod")),
            nz(obj.get("RequestPath")),
            to_status(status),
            to_bytes(size),
            nz(obj.get("request_Referer")),
        )


register_format(NginxJson.name, NginxJson)
register_format(CaddyJson.name, CaddyJson)
register_format(TraefikJson.name, TraefikJson)
