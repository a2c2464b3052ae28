"""Field helpers shared by the structured (Python, per-line) log formats.

Timestamps become integer microseconds since the epoch, UTC (Arrow turns them into the
tz-aware `ts` column). The client is chosen from an X-Forwarded-For style chain as Filebeat
does: the first public address, else the first entry (`client_ip`; `client_ip_sql` is the
same rule for the line-regex formats).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Iterable
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from urllib.parse import unquote

import duckdb
import pyarrow as pa

from amtspuls.collect.logs.formats.base import LogFormat, ParsedBatch
from amtspuls.collect.logs.reader import LineBatch
from amtspuls.model import HIT_SCHEMA

US = 1_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}

# One parsed request: (ts_us, ip, user_agent, host, method, url, status, bytes, referrer)
Row = tuple[int, str | None, str | None, str | None, str | None, str | None, int | None,
            int | None, str | None]
_COLUMNS = ("ts", "ip", "user_agent", "host", "method", "url", "status", "bytes", "referrer")


class Skip(str):
    """A valid line that carries no request; the string is the reason counted in `skipped`."""


class LineFormat(LogFormat):
    """A format parsed line by line in Python: `parse_line` returns a `Row`, a `Skip`
    reason, or None (malformed). Exceptions in `parse_line` make the line malformed."""

    # Time zone of timestamps written without an offset (IIS `date-local`, HAProxy, syslog).
    local_tz: tzinfo = UTC
    # Skip reasons that are no evidence of this format: a sample whose lines are all of
    # these (e.g. syslog lines of other programs) does not match.
    weak_reasons: frozenset[str] = frozenset()

    @abstractmethod
    def parse_line(self, line: str) -> Row | Skip | None: ...

    def fresh(self) -> LineFormat:
        """A new instance with the same settings (for sampling without touching state)."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.reset()
        return clone

    def reset(self) -> None:
        """Forget per-file state (headers); stateless formats need nothing."""

    def replay(self, lines: Iterable[str]) -> None:
        """Feed lines that are not parsed again (resuming a file) so that header state
        (W3C `#Fields`) is as it was; stateless formats ignore them."""

    def match_rate(self, sample: list[str]) -> float:
        return self.sample_rate(sample)[0]

    def sample_rate(self, sample: list[str]) -> tuple[float, LineFormat]:
        """The share of non-blank sample lines parsed (as a hit or a skip), and the probe
        instance that parsed them (its state tells a dialect). 0 when no line is evidence
        of this format (only weak skips)."""
        probe = self.fresh()
        total = ok = evidence = 0
        for line in sample:
            if not line.strip():
                continue
            total += 1
            try:
                result = probe.parse_line(line)
            except Exception:  # noqa: BLE001 - a bad line must never stop detection
                result = None
            if result is None:
                continue
            ok += 1
            if not isinstance(result, Skip) or result not in self.weak_reasons:
                evidence += 1
        if not total or not evidence:
            return 0.0, probe
        return ok / total, probe

    def parse(self, batch: LineBatch, engine: duckdb.DuckDBPyConnection) -> ParsedBatch:
        too_long = set(batch.too_long)
        line_nos: list[int] = []
        rows: list[Row] = []
        malformed: list[int] = []
        skipped: dict[str, int] = {}
        parse_line = self.parse_line
        for line_no, line in enumerate(batch.lines, batch.first_line_no):
            if too_long and line_no in too_long:
                malformed.append(line_no)
                continue
            if not line or line.isspace():
                skipped["blank"] = skipped.get("blank", 0) + 1
                continue
            try:
                result = parse_line(line)
            except Exception:  # noqa: BLE001 - never raise on a bad line
                result = None
            if result is None:
                malformed.append(line_no)
            elif isinstance(result, Skip):
                reason = str(result)
                skipped[reason] = skipped.get(reason, 0) + 1
            elif _valid(result):
                line_nos.append(line_no)
                rows.append(result)
            else:
                malformed.append(line_no)
        return ParsedBatch(hits=rows_to_hits(line_nos, rows), malformed=malformed,
                           skipped=skipped)


def rows_to_hits(line_nos: list[int], rows: list[Row]) -> pa.Table:
    """A HIT_SCHEMA table from parsed rows (timestamps as int µs: built as int64 and cast,
    a hundred times faster than converting Python ints to timestamps one by one)."""
    n = len(rows)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(_COLUMNS)
    by_name = dict(zip(_COLUMNS, columns, strict=True))
    arrays = []
    for f in HIT_SCHEMA:
        if f.name == "line_no":
            arrays.append(pa.array(line_nos, pa.int64()))
        elif f.name == "ts":
            arrays.append(pa.array(by_name["ts"], pa.int64()).cast(f.type))
        elif f.name in by_name:
            arrays.append(pa.array(by_name[f.name], f.type))
        else:
            arrays.append(pa.nulls(n, f.type))
    return pa.Table.from_arrays(arrays, schema=HIT_SCHEMA)


_TS_MIN = -62135596800 * US  # 0001-01-01
_TS_MAX = 253402300799 * US  # 9999-12-31 23:59:59
_INT32 = 2**31 - 1
_INT64 = 2**63 - 1


def _valid(row: Row) -> bool:
    ts, status, nbytes = row[0], row[6], row[7]
    if not isinstance(ts, int) or not _TS_MIN <= ts <= _TS_MAX:
        return False
    if status is not None and not -_INT32 <= status <= _INT32:
        return False
    return nbytes is None or -_INT64 <= nbytes <= _INT64


# --- values -------------------------------------------------------------------------------

def nz(value: object) -> str | None:
    """A text value, with the usual "no value" markers ('', '-') as None."""
    if type(value) is str:
        return None if value == "" or value == "-" else value
    if value is None or isinstance(value, dict | list | bool):
        return None
    text = value if isinstance(value, str) else str(value)
    return None if text in ("", "-") else text


def to_int(value: object) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str and value.isdigit() and value.isascii():
        return int(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 2**63 else None
    text = str(value).strip().lstrip("+")
    if text.isdigit() or (text[:1] == "-" and text[1:].isdigit()):
        return int(text)
    return None


def to_status(value: object) -> int | None:
    """An HTTP status: a non-negative integer (HAProxy writes -1 for aborted requests)."""
    status = to_int(value)
    return status if status is not None and 0 <= status <= 999 else None


def to_bytes(value: object) -> int | None:
    n = to_int(value)
    return n if n is not None and n >= 0 else None


_REQUEST_RE = re.compile(r"([A-Za-z][A-Za-z_-]*) +(\S+)")


def split_request(request: str | None) -> tuple[str | None, str | None]:
    """'GET /x HTTP/1.1' → ('GET', '/x'); anything else (a bare '-', '') → (None, None)."""
    if not request:
        return None, None
    m = _REQUEST_RE.match(request)
    if not m:
        return None, None
    return m.group(1), m.group(2)


_DEFAULT_PORT = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def split_url(url: str | None) -> tuple[str | None, str | None]:
    """An absolute URL → (host, path?query); the default port of its scheme is dropped.
    A URL that is already a path is returned unchanged with host None."""
    if not url:
        return None, None
    scheme, sep, rest = url.partition("://")
    if not sep or "/" in scheme:
        return None, url
    netloc, slash, path = rest.partition("/")
    host = netloc.rpartition("@")[2]
    if host.rsplit(":", 1)[-1] == _DEFAULT_PORT.get(scheme.lower()) and not host.endswith("]"):
        host = host.rsplit(":", 1)[0]
    path = slash + path
    if not path:
        path = "/"
    elif path[0] != "/":
        path = "/" + path
    return (host or None), path


def join_query(stem: str | None, query: str | None) -> str | None:
    if stem is None:
        return None
    if query and query != "-":
        return f"{stem}{'&' if '?' in stem else '?'}{query}"
    return stem


def first_header(headers: object, name: str) -> str | None:
    """A header from a {Name: [values]} map (Caddy): canonical or lower-case name."""
    if not isinstance(headers, dict):
        return None
    value = headers.get(name)
    if value is None:  # Go canonicalises header names; a lower-case log is the exception
        value = headers.get(name.lower())
    if isinstance(value, list):
        value = value[0] if value else None
    return nz(value) if isinstance(value, str) else None


# --- client address -----------------------------------------------------------------------

_CHAIN_SPLIT = re.compile(r'[\s,"]+')
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_IPV4_PRIVATE = re.compile(
    r"(?:0|10|127)\.|169\.254\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\."
    r"|100\.(?:6[4-9]|[7-9]\d|1[01]\d|12[0-7])\."
)
_IPV6_GLOBAL = re.compile(r"[23][0-9a-fA-F]{3}:[0-9a-fA-F:.]*")
_NO_ADDRESS = frozenset({"-", "unix:", "unknown", ""})


def is_public(addr: str) -> bool:
    """A routable address: IPv4 outside private/loopback/link-local/CGNAT ranges, or IPv6
    in 2000::/3. Names ('localhost', 'monitoring-server') are not."""
    if _IPV4.fullmatch(addr):
        return not _IPV4_PRIVATE.match(addr)
    return bool(_IPV6_GLOBAL.fullmatch(addr))


def strip_port(addr: str) -> str:
    """'1.2.3.4:80' → '1.2.3.4'; '[::1]:80' → '::1'; a bare IPv6 address is kept."""
    if addr.startswith("["):
        return addr[1:].partition("]")[0]
    if addr.count(":") == 1:
        return addr.partition(":")[0]
    return addr


def client_ip(*chains: str | None) -> str | None:
    """The client of one or more address lists, outermost first (an X-Forwarded-For
    value, then the peer address): the first public address, else the first entry.
    '-', 'unix:' and 'unknown' are no address."""
    given = [c for c in chains if c and c not in _NO_ADDRESS]
    if not given:
        return None
    if len(given) == 1:
        only = given[0]
        if "," not in only and " " not in only and '"' not in only:
            return only
    parts: list[str] = []
    for chain in given:
        parts.extend(p for p in _CHAIN_SPLIT.split(chain) if p not in _NO_ADDRESS)
    if not parts:
        return None
    for part in parts:
        if is_public(part):
            return part
    return parts[0]


# --- timestamps ---------------------------------------------------------------------------

def epoch_us(y: int, mo: int, d: int, h: int, mi: int, s: int, us: int = 0,
             offset_s: int = 0) -> int:
    """Microseconds since the epoch for a wall-clock time at a fixed UTC offset."""
    if not (1 <= mo <= 12 and 0 <= h <= 23 and 0 <= mi <= 59 and 0 <= s <= 60):
        raise ValueError("time out of range")
    days = date(y, mo, d).toordinal() - _EPOCH_ORDINAL
    return ((days * 86400 + h * 3600 + mi * 60 + s - offset_s) * US) + us


def local_epoch_us(tz: tzinfo, y: int, mo: int, d: int, h: int, mi: int, s: int,
                   us: int = 0) -> int:
    """Microseconds since the epoch for a wall-clock time in zone `tz` (no offset given)."""
    if tz is UTC:
        return epoch_us(y, mo, d, h, mi, s, us)
    delta = datetime(y, mo, d, h, mi, min(s, 59), us, tzinfo=tz) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def frac_us(frac: str | None) -> int:
    """'.584' → 584000 (any number of digits; beyond microseconds is cut)."""
    if not frac:
        return 0
    digits = frac.lstrip(".,")[:6]
    return int(digits.ljust(6, "0")) if digits.isdigit() else 0


@lru_cache(maxsize=4096)
def iso_us(text: str, tz: tzinfo = UTC) -> int | None:
    """An ISO 8601 timestamp ('2013-10-10T16:52:00+02:00', '…Z', nanoseconds allowed);
    one without offset is in zone `tz`."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except (ValueError, TypeError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    delta = dt - _EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def epoch_number_us(value: float | int | str) -> int | None:
    """A Unix time in seconds, milliseconds, microseconds or nanoseconds (by magnitude);
    whole numbers are converted exactly."""
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isdigit() else text
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if value < 0:
            return None
        if value < 10**11:  # seconds (until year 5138)
            return value * US
        if value < 10**14:
            return value * 1000
        if value < 10**17:
            return value
        return value // 1000
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number or number < 0 or number > 1e20:
        return None
    if number < 1e11:
        return round(number * US)
    if number < 1e14:
        return round(number * 1000)
    if number < 1e17:
        return int(number)
    return int(number // 1000)


_CLF_RE = re.compile(
    r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d)(\.\d+)?(?:\s*([+-])(\d\d):?(\d\d))?$"
)


@lru_cache(maxsize=4096)
def clf_us(text: str, tz: tzinfo = UTC) -> int | None:
    """'10/Feb/2012:16:42:07 -0500' (Apache) or '25/Sep/2018:06:05:27.584' (HAProxy,
    local time in zone `tz`)."""
    m = _CLF_RE.match(text.strip())
    if not m:
        return None
    mo = MONTHS.get(m.group(2).lower())
    if mo is None:
        return None
    d, y, h, mi, s = (int(m.group(i)) for i in (1, 3, 4, 5, 6))
    us = frac_us(m.group(7))
    try:
        if m.group(8):
            off = (int(m.group(9)) * 3600 + int(m.group(10)) * 60) * (
                -1 if m.group(8) == "-" else 1)
            return epoch_us(y, mo, d, h, mi, s, us, off)
        return local_epoch_us(tz, y, mo, d, h, mi, s, us)
    except ValueError:
        return None


def decode_agent(value: str | None) -> str | None:
    """A user agent as W3C-style logs write it: IIS replaces spaces by '+' (a literal '+'
    after a space becomes '++'); SHOUTcast and CloudFront percent-encode (CloudFront
    twice). A value that already contains spaces is left alone."""
    if value is None or value in ("", "-"):
        return None
    if " " in value:
        return value
    if "%20" in value or "%2520" in value or "%2F" in value or "%2f" in value:
        decoded = unquote(value)
        if "%20" in decoded or "%2F" in decoded:
            decoded = unquote(decoded)
        return decoded
    if "+" in value:
        if "++" not in value:
            return value.replace("+", " ")
        return _PLUS.sub(_plus_space, value)
    return value


_PLUS = re.compile(r"\+\+?")


def _plus_space(m: re.Match[str]) -> str:
    return " +" if len(m.group(0)) == 2 else " "


def client_ip_sql(column: str) -> str:
    """The SQL twin of `client_ip` for one chain column (used by the line-regex formats):
    quotes stripped, split at commas and spaces, '-'/'unix:'/'unknown' dropped, the first
    public address, else the first entry. The list work is done only for chains."""
    parts = (f"list_filter(regexp_split_to_array({column}, '[\\s,\"]+'), "
             "lambda x: x NOT IN ('', '-', 'unix:', 'unknown'))")
    public = (
        "(regexp_full_match(x, '\\d{1,3}(\\.\\d{1,3}){3}') AND NOT regexp_matches(x, "
        "'^((0|10|127)\\.|169\\.254\\.|192\\.168\\.|172\\.(1[6-9]|2\\d|3[01])\\.|"
        "100\\.(6[4-9]|[7-9]\\d|1[01]\\d|12[0-7])\\.)')) "
        "OR regexp_full_match(x, '[23][0-9a-fA-F]{3}:[0-9a-fA-F:.]*')"
    )
    return (
        f"CASE WHEN {column} IS NULL OR {column} IN ('', '-', 'unix:', 'unknown') THEN NULL "
        f"WHEN NOT regexp_matches({column}, '[\\s,\"]') THEN {column} "
        f"ELSE coalesce(list_filter({parts}, lambda x: {public})[1], {parts}[1]) END"
    )
