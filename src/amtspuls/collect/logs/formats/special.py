"""Formats that are not one line regex: AWS load balancers (ELB, ALB), HAProxy's HTTP
log through syslog, bunny.net's pipe-separated CDN log, and access-log lines wrapped in
syslog lines.

Valid lines without a request are skipped with a reason: an ELB TCP connection
(`"- - - "`) or a HAProxy TCP log line as `no_request`, HAProxy's own messages as
`haproxy_event`, syslog lines of other programs as `other_program` / `non_access`.
"""

from __future__ import annotations

import re
from datetime import datetime

from amtspuls.collect.logs.formats.fields import (
    MONTHS,
    LineFormat,
    Row,
    Skip,
    clf_us,
    client_ip,
    epoch_number_us,
    iso_us,
    local_epoch_us,
    nz,
    split_request,
    split_url,
    to_bytes,
    to_status,
)
from amtspuls.collect.logs.formats.json_formats import NginxJson
from amtspuls.collect.logs.formats.registry import register_format

NO_REQUEST = Skip("no_request")
HAPROXY_EVENT = Skip("haproxy_event")
NON_ACCESS = Skip("non_access")
OTHER_PROGRAM = Skip("other_program")
SYSLOG = Skip("syslog")


def addr_port(value: str | None) -> str | None:
    """'1.2.3.4:2817' → '1.2.3.4'; '[2001:db8::1]:80' → '2001:db8::1'; '-' → None."""
    if not value or value == "-":
        return None
    if value.startswith("["):
        return value[1:].partition("]")[0] or None
    host, sep, port = value.rpartition(":")
    return host if sep and port.isdigit() else value


def _request_row(ts: int, ip: str | None, agent: str | None, request: str, status,
                 nbytes, referrer: str | None = None) -> Row:
    method, url = split_request(request)
    host, url = split_url(url)
    return (ts, ip, agent, host, method, url, to_status(status), to_bytes(nbytes), referrer)


# --- AWS -----------------------------------------------------------------------------------

_ISO_Z = r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"
_ELB = re.compile(
    _ISO_Z + r" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) "
    r'"([^"]*)"(?: "([^"]*)")?(?: |$)'
)
_ALB = re.compile(
    r"(https?|h2|grpcs?|wss?) " + _ISO_Z + r" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) "
    r'(\S+) (\S+) (\S+) "([^"]*)" "([^"]*)"(?: |$)'
)


def _no_request(request: str) -> bool:
    return request.replace("-", "").strip() == ""


class Elb(LineFormat):
    """AWS Classic Load Balancer access log."""

    name = "elb"
    priority = 70

    def parse_line(self, line: str) -> Row | Skip | None:
        m = _ELB.match(line)
        if not m:
            return None
        ts = iso_us(m.group(1))
        if ts is None:
            return None
        request = m.group(12)
        if _no_request(request):
            return NO_REQUEST  # a TCP/SSL listener: a connection, not an HTTP request
        return _request_row(ts, client_ip(addr_port(m.group(3))), nz(m.group(13)), request,
                            m.group(8), m.group(11))


class Alb(LineFormat):
    """AWS Application Load Balancer access log."""

    name = "alb"
    priority = 70

    def parse_line(self, line: str) -> Row | Skip | None:
        m = _ALB.match(line)
        if not m:
            return None
        ts = iso_us(m.group(2))
        if ts is None:
            return None
        request = m.group(13)
        if _no_request(request):
            return NO_REQUEST
        return _request_row(ts, client_ip(addr_port(m.group(4))), nz(m.group(14)), request,
                            m.group(9), m.group(12))


# --- syslog --------------------------------------------------------------------------------

_BSD_TS = re.compile(r"(?:<\d{1,3}>)?([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) +(.*)$")
_ISO_TS = re.compile(
    r"(?:<\d{1,3}>)?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) +(.*)$")
_RFC5424 = re.compile(r"<\d{1,3}>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[.*?\])+) ?(.*)$")
_HOST_TAG = re.compile(r"(\S+) ([^\s:\[\]]+)(?:\[\d+\])?: ?(.*)$")
_TAG = re.compile(r"([^\s:\[\]]+)(?:\[\d+\])?: ?(.*)$")


class SyslogLine:
    __slots__ = ("ts", "tag", "message")

    def __init__(self, ts: int | None, tag: str | None, message: str) -> None:
        self.ts, self.tag, self.message = ts, tag, message


class SyslogMixin:
    """Splits a syslog line (BSD `Mon dd hh:mm:ss host tag[pid]: msg`, an ISO timestamp,
    or RFC 5424) into time, program and message. BSD timestamps have no year: `year`
    if set, else the current year (the previous one for a date more than a day ahead)."""

    year: int | None = None

    def _bsd_us(self, mon: str, day: str, h: str, mi: str, s: str) -> int | None:
        mo = MONTHS.get(mon.lower())
        if mo is None:
            return None
        tz = self.local_tz  # type: ignore[attr-defined]
        year = self.year
        if year is None:
            now = datetime.now(tz)
            year = now.year
            if (mo, int(day)) > (now.month, now.day + 1):
                year -= 1
        try:
            return local_epoch_us(tz, year, mo, int(day), int(h), int(mi), int(s))
        except ValueError:
            return None

    def split_syslog(self, line: str) -> SyslogLine | None:
        m = _BSD_TS.match(line)
        if m:
            ts = self._bsd_us(*m.group(1, 2, 3, 4, 5))
            rest = m.group(6)
        else:
            m5 = _RFC5424.match(line)
            if m5:
                return SyslogLine(iso_us(m5.group(1), self.local_tz),  # type: ignore[attr-defined]
                                  m5.group(3), m5.group(7))
            m = _ISO_TS.match(line)
            if not m:
                return None
            ts = iso_us(m.group(1), self.local_tz)  # type: ignore[attr-defined]
            rest = m.group(2)
        if ts is None:
            return None
        ht = _HOST_TAG.match(rest)
        if ht:
            return SyslogLine(ts, ht.group(2), ht.group(3))
        t = _TAG.match(rest)
        if t:
            return SyslogLine(ts, t.group(1), t.group(2))
        return SyslogLine(ts, None, rest)


# --- HAProxy -------------------------------------------------------------------------------

_HAPROXY_HTTP = re.compile(
    r"(\S+):(\d+) \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d(?:\.\d+)?)\] (\S+) (\S+) "
    r"(-?\d+/-?\d+/-?\d+/-?\d+/\+?-?\d+) (-?\d+) (\+?\d+) \S+ \S+ \S+ "
    r"\S+ \S+(?: \{([^}]*)\})?(?: \{([^}]*)\})? \"(.*?)\"?$"
)
_HAPROXY_TCP = re.compile(
    r"(\S+):(\d+) \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d(?:\.\d+)?)\] (\S+) (\S+) "
    r"(-?\d+/-?\d+/\+?-?\d+) (\+?\d+) \S+ \S+ \S+$"
)
_UA_LIKE = re.compile(r"[A-Za-z][\w.+-]*/\S")
_HOST_LIKE = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?::\d+)?$")
_IP_LIST = re.compile(r"[0-9A-Fa-f:.]*[.:][0-9A-Fa-f:.]*(?:, ?[0-9A-Fa-f:.]+)*$")


def _captured(headers: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """(user agent, referrer, host, forwarded-for) guessed from HAProxy's captured request
    headers: their order depends on the configuration, so each is recognised by shape."""
    agent = referrer = host = xff = None
    if headers:
        for value in headers.split("|"):
            value = value.strip()
            if not value:
                continue
            if referrer is None and value.startswith(("http://", "https://")):
                referrer = value
            elif agent is None and _UA_LIKE.match(value):
                agent = value
            elif host is None and _HOST_LIKE.match(value):
                host = value
            elif xff is None and _IP_LIST.match(value):
                xff = value
    return agent, referrer, host, xff


def parse_haproxy(message: str, tz) -> Row | Skip | None:
    """One HAProxy log message (without its syslog prefix)."""
    m = _HAPROXY_HTTP.match(message)
    if m:
        ts = clf_us(m.group(3), tz)
        if ts is None:
            return None
        agent, referrer, host, xff = _captured(m.group(9))
        method, url = split_request(m.group(11))
        url_host, url = split_url(url)
        return (ts, client_ip(xff, m.group(1)), agent, host or url_host, method, url,
                to_status(m.group(7)), to_bytes(m.group(8)), referrer)
    if _HAPROXY_TCP.match(message):
        return NO_REQUEST
    return None


class HAProxy(SyslogMixin, LineFormat):
    """HAProxy's HTTP log format, through syslog or raw on stdout. Times are the accept
    date (local time, in `local_tz`)."""

    name = "haproxy"
    priority = 70
    weak_reasons = frozenset({"other_program", "syslog"})

    def parse_line(self, line: str) -> Row | Skip | None:
        if line[:1].isdigit() or line[:1] == "[":
            raw = parse_haproxy(line, self.local_tz)
            if raw is not None:
                return raw
        sl = self.split_syslog(line)
        if sl is None:
            return None
        if sl.tag is None:
            return SYSLOG
        if not sl.tag.startswith("haproxy"):
            return OTHER_PROGRAM
        result = parse_haproxy(sl.message, self.local_tz)
        return HAPROXY_EVENT if result is None else result


# --- access lines inside syslog --------------------------------------------------------------

_ADDR = r'[^\s",\[\]]+'
_IPLIST = rf'(?:"[^"]*"|{_ADDR}(?:, ?{_ADDR})+)(?: {_ADDR})?|{_ADDR}'
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_TAIL = rf'(?: {_QUOTED} "((?:[^"\\]|\\.)*)"?)?'
_CLF = re.compile(
    rf'(?:([^\s,"]+) )?({_IPLIST}) \S+ \S+ \[([^\]]+)\] {_QUOTED} (\d{{3}}|-) (\d+|-)' + _TAIL)
_CLF_NO_DATE = re.compile(rf'({_IPLIST}) \S+ \S+ {_QUOTED} (\d{{3}}) (\d+|-)' + _TAIL)


def _unescape(value: str | None) -> str | None:
    return nz(value.replace('\\"', '"')) if value is not None else None


class SyslogWrapped(SyslogMixin, LineFormat):
    """Access-log lines sent through syslog (`… host nginx: 1.2.3.4 - - [date] "GET …"`):
    combined/common with or without their own date (then the syslog time is used),
    HAProxy, or nginx JSON. Syslog lines of other content are skipped as non_access."""

    name = "syslog_wrapped"
    priority = 40
    weak_reasons = frozenset({"non_access", "syslog"})

    def parse_line(self, line: str) -> Row | Skip | None:
        sl = self.split_syslog(line)
        if sl is None:
            return None
        if sl.tag is None:
            return SYSLOG
        message = sl.message
        if sl.tag.startswith("haproxy"):
            result = parse_haproxy(message, self.local_tz)
            return NON_ACCESS if result is None else result
        m = _CLF.match(message)
        if m:
            ts = clf_us(m.group(3), self.local_tz)
            if ts is None:
                return None
            host, ip_chain = m.group(1), m.group(2)
            request, status, nbytes, referrer, agent = m.group(4, 5, 6, 7, 8)
        else:
            m = _CLF_NO_DATE.match(message)
            if m:
                ts = sl.ts
                host = None
                ip_chain, request, status, nbytes, referrer, agent = m.group(1, 2, 3, 4, 5, 6)
            elif message.lstrip().startswith("{"):
                inner = NginxJson()
                inner.local_tz = self.local_tz
                result = inner.parse_line(message)
                return NON_ACCESS if result is None or isinstance(result, Skip) else result
            else:
                return NON_ACCESS
        if ts is None:
            return None
        method, url = split_request(_unescape(request))
        return (ts, client_ip(ip_chain), _unescape(agent), host, method, url,
                to_status(status), to_bytes(nbytes), _unescape(referrer))


# --- bunny.net ------------------------------------------------------------------------------

class Bunny(LineFormat):
    """bunny.net CDN log: `cache|status|epoch ms|bytes|zone|ip|referer|url|edge|ua|id|cc`.
    It has no method; the URL is absolute (its host becomes `host`)."""

    name = "bunny"
    priority = 70

    def parse_line(self, line: str) -> Row | Skip | None:
        parts = line.split("|")
        if len(parts) < 12:
            return None
        cache, status, stamp, nbytes, _zone, ip, referrer, url = parts[:8]
        if not (cache.isalpha() and status.isdigit() and stamp.isdigit() and len(stamp) >= 12):
            return None
        ts = epoch_number_us(int(stamp))
        if ts is None:
            return None
        agent = "|".join(parts[9:-2])
        host, url = split_url(nz(url))
        return (ts, client_ip(ip), nz(agent), host, None, url, to_status(status),
                to_bytes(nbytes), nz(referrer))


for _fmt in (Elb, Alb, HAProxy, SyslogWrapped, Bunny):
    register_format(_fmt.name, _fmt)
