"""W3C extended log files (IIS, IIS Advanced Logging, CloudFront, Incapsula, NetScaler,
SHOUTcast, Oracle Web Cache …): `#Fields:` names the columns, and may change mid-file,
so each instance keeps the header state of the one file it reads.

Values are separated by whitespace (tabs for CloudFront); a value may be quoted, with
`""` for a quote inside. All `#` directive lines are skipped as `header`.

Decisions (see also the module tests):
- Times are UTC, as the W3C draft says; `date-local`/`time-local` (IIS Advanced
  Logging) are in `local_tz`. A file with `time` but no `date` column takes the date
  of its `#Date:` directive. `#GMT-Offset` is not applied.
- A data line whose value count differs from the header, or a data line before any
  header, is read with a known IIS layout when exactly one fits (date, time, addresses,
  method and status where that layout has them); otherwise the declared columns are
  used (missing ones null, extra ones ignored) and the line must still have a date and
  time.
- The client is the first public address of `x-forwarded-for` then `c-ip`.
- User agents are decoded (IIS '+' for space, percent-encoding of SHOUTcast/CloudFront).
- IIS FTP log lines (`[2]USER`) are skipped as `ftp`; CloudFront RTMP events other
  than `play` are skipped as `rtmp_event`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from amtspuls.collect.logs.formats.fields import (
    MONTHS,
    LineFormat,
    Row,
    Skip,
    client_ip,
    decode_agent,
    epoch_us,
    frac_us,
    join_query,
    local_epoch_us,
    split_url,
    to_bytes,
    to_status,
)
from amtspuls.collect.logs.formats.registry import register_format

HEADER = Skip("header")
FTP = Skip("ftp")
RTMP_EVENT = Skip("rtmp_event")

_DIRECTIVE = re.compile(r"#\s*([A-Za-z][A-Za-z-]*)\s*:(.*)$")
_TOKEN = re.compile(r'"((?:[^"]|"")*)"(?=\s|$)|(\S+)')
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)$")
_DMY = re.compile(r"(\d\d)/([A-Za-z]{3})/(\d{4})")
_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)([.,]\d+)?$")
_METHOD = re.compile(r"[A-Za-z][A-Za-z_-]*$")
_FTP_METHOD = re.compile(r"\[\d+\]")
_ADDRESS = re.compile(r"[0-9A-Fa-f:.]+(?:,\s*[0-9A-Fa-f:.]+)*$|-$")
_STATUS = re.compile(r"\d{3}$|-$")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff"))

# Column roles: the first listed name present wins.
ROLES: dict[str, tuple[str, ...]] = {
    "date": ("date", "date-local"),
    "time": ("time", "time-local"),
    "ip": ("c-ip",),
    "xff": ("x-forwarded-for", "cs(x-forwarded-for)", "s-xff", "x-client-ip"),
    "method": ("cs-method",),
    "uri": ("cs-uri",),
    "stem": ("cs-uri-stem",),
    "query": ("cs-uri-query",),
    "host": ("x-host-header", "cs-host", "cs(host)"),
    "status": ("sc-status", "c-status", "x-cf-status"),
    "bytes": ("sc-bytes", "bytes"),
    "agent": ("cs(user-agent)", "c-user-agent", "cs-user-agent", "cs(useragent)"),
    "referrer": ("cs(referer)", "cs(referrer)", "c-referrer", "cs-referer", "cs-referrer"),
    "event": ("x-event",),
    "sname": ("x-sname",),
    "sname_query": ("x-sname-query",),
}


_ROLE_ORDER = tuple(ROLES)


@dataclass(frozen=True)
class Layout:
    fields: tuple[str, ...]
    index: dict[str, int]
    local_time: bool
    # The column of each role in `_ROLE_ORDER` order, -1 when absent.
    slots: tuple[int, ...] = ()

    @classmethod
    def of(cls, fields: tuple[str, ...]) -> Layout:
        lower = [f.lower() for f in fields]
        index: dict[str, int] = {}
        for role, names in ROLES.items():
            for name in names:
                if name in lower:
                    index[role] = lower.index(name)
                    break
        local = any(f in ("date-local", "time-local") for f in lower) and not (
            "date" in lower or "time" in lower)
        slots = tuple(index.get(role, -1) for role in _ROLE_ORDER)
        return cls(tuple(fields), index, local, slots)

    def fits(self, values: list[str | None]) -> bool:
        """Whether the values look like this layout (used for guessed layouts)."""
        if len(values) != len(self.fields):
            return False
        checks = (("date", _DATE), ("time", _TIME), ("method", _METHOD), ("ip", _ADDRESS),
                  ("status", _STATUS))
        for role, pattern in checks:
            i = self.index.get(role)
            if i is None:
                continue
            value = values[i]
            if value is None or not pattern.match(value):
                return False
        s_ip = _lower_index(self.fields, "s-ip")
        return s_ip is None or bool(values[s_ip] and _ADDRESS.match(values[s_ip]))


def _lower_index(fields: tuple[str, ...], name: str) -> int | None:
    for i, f in enumerate(fields):
        if f.lower() == name:
            return i
    return None


_IIS7 = ("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
         "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken")
# Known IIS layouts, for data lines without (or not matching) a #Fields header.
IIS_LAYOUTS: tuple[Layout, ...] = tuple(
    Layout.of(tuple(text.split()))
    for text in (
        # IIS 6 default
        "date time s-sitename s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username "
        "c-ip cs(User-Agent) sc-status sc-substatus sc-win32-status",
        # IIS 7–10 default
        _IIS7,
        # IIS 10 default plus the X-Forwarded-For custom field
        _IIS7 + " X-Forwarded-For",
        # IIS 8.5+ with the byte counts selected
        "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
        "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes "
        "cs-bytes time-taken",
    )
)
_IIS_BY_COUNT: dict[int, tuple[Layout, ...]] = {}
for _layout in IIS_LAYOUTS:
    _IIS_BY_COUNT[len(_layout.fields)] = (*_IIS_BY_COUNT.get(len(_layout.fields), ()), _layout)

_IIS_SOFTWARE = re.compile(r"\bmicrosoft\b|\biis\b", re.IGNORECASE)
_IIS_ONLY_FIELDS = {"s-sitename", "sc-win32-status", "sc-substatus", "s-computername"}


def tokenize(line: str) -> list[str | None]:
    """The values of a data line ('' → None; '-' is kept, it means "no value" per column).
    Zero-width characters (CloudFront RTMP) are removed."""
    if not line.isascii():
        line = line.translate(_ZERO_WIDTH)
    if "\t" in line:
        return [v.strip() or None for v in line.split("\t")]
    if '"' not in line:
        return line.split()  # type: ignore[return-value]
    values: list[str | None] = []
    for m in _TOKEN.finditer(line):
        quoted = m.group(1)
        if quoted is not None:
            values.append(quoted.replace('""', '"') or None)
        else:
            values.append(m.group(2))
    return values


@lru_cache(maxsize=1024)
def _parse_date(text: str | None) -> tuple[int, int, int] | None:
    if not text:
        return None
    m = _DATE.match(text)
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    m = _DMY.match(text)
    if m and m.group(2).lower() in MONTHS:
        return int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1))
    return None


class W3C(LineFormat):
    name = "w3c"
    priority = 60

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.layout: Layout | None = None
        self.directive_date: tuple[int, int, int] | None = None
        self.software: list[str] = []
        self.field_names: set[str] = set()
        self.guessed_iis = False

    def replay(self, lines) -> None:
        for line in lines:
            if line.lstrip().startswith("#"):
                self._directive(line.strip())

    # -- detection ---------------------------------------------------------------------
    def match_rate(self, sample: list[str]) -> float:
        rate, probe = self.sample_rate(sample)
        return rate if rate and self.dialect_ok(probe) else 0.0

    def dialect_ok(self, probe: W3C) -> bool:
        return True

    # -- parsing -----------------------------------------------------------------------
    def _directive(self, line: str) -> Skip | None:
        m = _DIRECTIVE.match(line)
        if not m:
            return None
        key = m.group(1).lower()
        value = m.group(2)
        if key != "fields":
            value = value.split("//", 1)[0] if " //" in value else value
        value = value.strip()
        if key == "fields":
            fields = tuple(value.split())
            self.layout = Layout.of(fields)
            self.field_names.update(f.lower() for f in fields)
        elif key in ("date", "start-date"):
            parsed = _parse_date(value.split()[0] if value else None)
            if parsed:
                self.directive_date = parsed
        elif key == "software":
            self.software.append(value)
        return HEADER

    def _layout_for(self, values: list[str | None]) -> Layout | None:
        layout = self.layout
        if layout is not None and len(values) == len(layout.fields):
            return layout
        for candidate in _IIS_BY_COUNT.get(len(values), ()):
            if candidate.fits(values):
                self.guessed_iis = True
                return candidate
        return layout

    def parse_line(self, line: str) -> Row | Skip | None:
        if line[:1] == "#" or line.lstrip()[:1] == "#":
            return self._directive(line.strip())
        values = tokenize(line)
        layout = self._layout_for(values)
        if layout is None:
            return None
        idx = layout.index
        width = len(layout.fields)
        if len(values) < width:
            values.extend([None] * (width - len(values)))
        (date_v, time_v, ip, xff, method, uri, stem, query, host, status, nbytes, agent,
         referrer, event, sname, sname_query) = [
            None if i < 0 or values[i] == "-" else values[i] for i in layout.slots]
        date = _parse_date(date_v) if "date" in idx else self.directive_date
        if date is None or time_v is None:
            return None
        ts = (_local_ts(date, time_v, self.local_tz) if layout.local_time
              else _utc_ts(date, time_v))
        if ts is None:
            return None
        if method is not None and method[:1] == "[" and _FTP_METHOD.match(method):
            return FTP
        if event is not None or "event" in idx:  # CloudFront RTMP: the stream is the content
            if event != "play":
                return RTMP_EVENT
            url = stem
            if url and sname:
                url = join_query(url.rstrip("/") + "/" + sname, sname_query)
            else:
                url = join_query(url, query)
        elif uri is not None:
            url = uri
            if uri[:1] not in ("/", "*") and "://" not in uri[:12] and "/" in uri and (
                    "." in uri.split("/", 1)[0]):
                url = "http://" + uri  # Incapsula: "www.example.com/page.php"
            url = join_query(url, query)
        else:
            url = join_query(stem, query)
        if url is not None and "://" in url[:12]:
            url_host, url = split_url(url)
            host = host or url_host
        return (
            ts,
            client_ip(xff, ip),
            decode_agent(agent),
            host,
            method,
            url,
            to_status(status),
            to_bytes(nbytes),
            referrer,
        )


@lru_cache(maxsize=4096)
def _utc_ts(date: tuple[int, int, int], time_text: str) -> int | None:
    m = _TIME.match(time_text)
    if m is None:
        return None
    try:
        return epoch_us(*date, int(m.group(1)), int(m.group(2)), int(m.group(3)),
                        frac_us(m.group(4)))
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _local_ts(date: tuple[int, int, int], time_text: str, tz) -> int | None:
    m = _TIME.match(time_text)
    if m is None:
        return None
    try:
        return local_epoch_us(tz, *date, int(m.group(1)), int(m.group(2)), int(m.group(3)),
                              frac_us(m.group(4)))
    except ValueError:
        return None


class IIS(W3C):
    """W3C as IIS writes it: a `#Software:` naming Microsoft/IIS, IIS-only columns, or
    header-less data lines in a known IIS layout."""

    name = "iis"
    priority = 65

    def dialect_ok(self, probe: W3C) -> bool:
        software = " ".join(probe.software)
        if software:
            return bool(_IIS_SOFTWARE.search(software))
        return probe.guessed_iis or bool(probe.field_names & _IIS_ONLY_FIELDS)


class CloudFrontWeb(W3C):
    """Amazon CloudFront standard (web distribution) logs: tab-separated W3C."""

    name = "cloudfront_web"
    priority = 70

    def dialect_ok(self, probe: W3C) -> bool:
        return "x-edge-location" in probe.field_names and "cs-method" in probe.field_names


class CloudFrontRtmp(W3C):
    """Amazon CloudFront RTMP streaming logs (service ended 2020): `play` events are hits."""

    name = "cloudfront_rtmp"
    priority = 70

    def dialect_ok(self, probe: W3C) -> bool:
        return "x-edge-location" in probe.field_names and "x-event" in probe.field_names


for _fmt in (W3C, IIS, CloudFrontWeb, CloudFrontRtmp):
    register_format(_fmt.name, _fmt)
