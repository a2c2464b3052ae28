"""Service requests in: Open311 GeoReport v2 request objects (JSON array or JSON lines),
the Konstanz Mängelmelder CSV, or any CSV with a column map. Parsing only — one
function per format, each yielding `Parsed` rows (a record, or the reason it was
rejected) while reading the file as a stream. Scrubbing, triage and storage happen
later (`analyze.triage.intake`)."""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from amtspuls.errors import UserError

FORMATS = ("open311", "konstanz", "csv")

# The fields a request record may have (Open311 names plus `external_category`).
FIELDS = (
    "service_request_id", "service_code", "service_name", "description", "lat", "long",
    "address_string", "zipcode", "media_url", "status", "status_notes", "requested_datetime",
    "updated_datetime", "expected_datetime", "agency_responsible", "external_category",
)  # fmt: skip

STATUSES = ("open", "closed")
_MAX_TEXT = 20_000


@dataclass
class Parsed:
    line: int
    record: dict[str, Any] | None = None
    reason: str | None = None
    detail: str = ""


@dataclass
class IncomingRequest:
    """A request as read from outside, before scrubbing and triage."""

    service_request_id: str | None
    description_raw: str
    text: str  # the text to analyse (before scrubbing): boilerplate removed
    requested: datetime  # naive UTC
    service_code: str | None = None
    external_category: str | None = None
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    zipcode: str | None = None
    media_url: str | None = None
    status: str = "open"
    status_notes: str | None = None
    updated: datetime | None = None
    expected: datetime | None = None
    closed: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    contact: dict[str, Any] = field(default_factory=dict)


class Reject(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


# ------------------------------------------------------------------------ field parsing

def parse_time(value: Any, tz: str) -> datetime:
    """ISO 8601 (with or without offset; naive means the site's local time) or
    `YYYY-MM-DD HH:MM[:SS]` → naive UTC."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Reject("missing_time", "requested_datetime is empty")
    s = str(value).strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        raise Reject("bad_time", f"not an ISO date/time: {str(value)[:40]!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(tz))
    return t.astimezone(UTC).replace(tzinfo=None)


def parse_coord(value: Any, lo: float, hi: float, name: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        v = float(str(value).strip().replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise Reject("bad_location", f"{name} is not a number: {str(value)[:30]!r}") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise Reject("bad_location", f"{name} out of range: {v}")
    return v


def _str(value: Any, limit: int = 2000) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s[:limit] if s else None


_TAG = re.compile(r"<[^>]{0,200}>")


def clean_text(value: str) -> str:
    """Text for analysis: HTML tags and entities resolved, line ends unified."""
    t = html.unescape(_TAG.sub(" ", value)) if "<" in value or "&" in value else value
    return t.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ").strip()


def request_from_fields(obj: dict[str, Any], tz: str) -> IncomingRequest:
    """An Open311-shaped dict (Open311 field names) → IncomingRequest, or Reject."""
    desc = obj.get("description")
    if desc is not None and not isinstance(desc, str):
        desc = str(desc)
    desc = (desc or "")[:_MAX_TEXT]
    code = _str(obj.get("service_code"), 100)
    ext = _str(obj.get("external_category"), 300) or _str(obj.get("service_name"), 300)
    if not desc.strip() and not code:
        raise Reject("missing_text", "neither description nor service_code")
    lat = parse_coord(obj.get("lat"), -90, 90, "lat")
    lon = parse_coord(obj.get("long", obj.get("lon")), -180, 180, "long")
    if (lat is None) != (lon is None):
        raise Reject("bad_location", "lat and long must be given together")
    if lat == 0 and lon == 0:
        lat = lon = None
    status = (_str(obj.get("status"), 20) or "open").lower()
    if status not in STATUSES:
        raise Reject("bad_status", f"status must be open or closed, got {status!r}")
    rid = _str(obj.get("service_request_id"), 100)
    if rid is not None and any(c in rid for c in "/?#\n\r\t"):
        raise Reject("bad_id", f"service_request_id with a forbidden character: {rid!r}")
    requested = parse_time(obj.get("requested_datetime"), tz)
    updated = parse_time(obj["updated_datetime"], tz) if obj.get("updated_datetime") else None
    expected = parse_time(obj["expected_datetime"], tz) if obj.get("expected_datetime") else None
    notes = obj.get("status_notes", obj.get("status_note"))
    address = _str(obj.get("address_string"), 500)
    if address and not re.search(r"[0-9A-Za-zÄÖÜäöüß]", address):
        address = None  # "," placeholders (Mark-a-Spot) carry nothing
    return IncomingRequest(
        service_request_id=rid, description_raw=desc, text=clean_text(desc), requested=requested,
        service_code=code, external_category=ext, lat=lat, long=lon, address_string=address,
        zipcode=_str(obj.get("zipcode"), 20), media_url=_str(obj.get("media_url"), 2000),
        status=status, status_notes=_str(notes, 5000), updated=updated, expected=expected,
        closed=(updated or requested) if status == "closed" else None,
        attributes=obj.get("attributes") if isinstance(obj.get("attributes"), dict) else {},
    )


# ------------------------------------------------------------------------ formats

def read_open311(fh: IO[str], tz: str) -> Iterator[Parsed]:
    """GeoReport v2 request objects: a JSON array (read incrementally, object by object)
    or JSON lines (one object per line)."""
    head = ""
    while True:
        ch = fh.read(1)
        if not ch:
            return
        if not ch.isspace() and ch != "\ufeff":
            head = ch
            break
    if head == "[":
        yield from _json_array(fh, tz)
    else:
        yield from _json_lines(head, fh, tz)


def _one(line: int, obj: Any, tz: str) -> Parsed:
    if not isinstance(obj, dict):
        return Parsed(line, reason="not_an_object", detail=type(obj).__name__)
    try:
        return Parsed(line, record=request_from_fields(obj, tz))
    except Reject as r:
        return Parsed(line, reason=r.reason, detail=r.detail)


def _json_lines(first: str, fh: IO[str], tz: str) -> Iterator[Parsed]:
    n = 0
    for raw in _lines(first, fh):
        n += 1
        s = raw.strip()
        if not s:
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as exc:
            yield Parsed(n, reason="malformed_json", detail=str(exc)[:80])
            continue
        yield _one(n, obj, tz)


def _lines(first: str, fh: IO[str]) -> Iterator[str]:
    rest = fh.readline()
    yield first + rest
    yield from fh


def _json_array(fh: IO[str], tz: str, chunk: int = 1 << 16) -> Iterator[Parsed]:
    decoder = json.JSONDecoder()
    buf = ""
    pos = 0
    n = 0
    eof = False
    while True:
        # skip separators
        while True:
            while pos < len(buf) and (buf[pos].isspace() or buf[pos] == ","):
                pos += 1
            if pos < len(buf) or eof:
                break
            more = fh.read(chunk)
            if not more:
                eof = True
            buf = buf[pos:] + more
            pos = 0
        if pos >= len(buf):
            yield Parsed(n + 1, reason="malformed_json", detail="the array is not closed")
            return
        if buf[pos] == "]":
            return
        try:
            obj, end = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            if eof:
                yield Parsed(n + 1, reason="malformed_json", detail=str(exc)[:80])
                return
            more = fh.read(chunk)
            if not more:
                eof = True
            buf = buf[pos:] + more
            pos = 0
            continue
        n += 1
        yield _one(n, obj, tz)
        pos = end
        if pos > chunk:
            buf = buf[pos:]
            pos = 0


_ADDRESS_NOTE = re.compile(r"\(\s*Adresssuche nach:[^)]*\)", re.IGNORECASE)


def read_konstanz(fh: IO[str], tz: str, mapping: dict[str, str]) -> Iterator[Parsed]:
    """The Konstanz Mängelmelder export (Stadt Konstanz, Offene Daten Konstanz, CC BY 4.0):
    ID, Text, Kategorie ("Haupt > Unter"), Automatisch-ermittelte-Adresse, lon, lat,
    Gemeldet-am (local time), Geprueft-am. The category becomes `external_category`; its
    catalogue service (`mapping`, data/triage/konstanz_categories.toml) the service code."""
    reader = csv.DictReader(fh)
    need = {"ID", "Text", "Kategorie", "Gemeldet-am"}
    if not reader.fieldnames or not need.issubset(reader.fieldnames):
        cols = ", ".join(sorted(need))
        raise UserError(f"not a Konstanz Mängelmelder CSV (needs columns {cols})")
    n = 0
    for row in reader:
        n += 1
        raw = row.get("Text") or ""
        cat = (row.get("Kategorie") or "").strip()
        obj = {
            "service_request_id": f"kn-{(row.get('ID') or '').strip()}",
            "description": raw,
            "external_category": cat or None,
            "service_code": mapping.get(cat) or mapping.get(cat.split(" > ")[0]),
            "lat": row.get("lat"), "long": row.get("lon"),
            "address_string": row.get("Automatisch-ermittelte-Adresse"),
            "requested_datetime": row.get("Gemeldet-am"),
            "status": "closed" if (row.get("Geprueft-am") or "").strip() else "open",
            "updated_datetime": (row.get("Geprueft-am") or "").strip() or None,
        }
        if obj["service_request_id"] == "kn-":
            yield Parsed(n, reason="missing_id", detail="ID is empty")
            continue
        p = _one(n, obj, tz)
        if p.record is not None:
            p.record.text = clean_text(_ADDRESS_NOTE.sub(" ", raw)).strip()
            p.record.description_raw = raw
        yield p


def read_csv(fh: IO[str], tz: str, column_map: dict[str, str]) -> Iterator[Parsed]:
    """Any CSV (delimiter , ; or tab, sniffed): columns named like Open311 fields are
    taken as they are; `column_map` maps other columns (COLUMN=FIELD)."""
    sample = fh.read(8192)
    rest = fh
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(_chain(sample, rest), dialect)
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [h.strip().lstrip("\ufeff") for h in header]
    for col, fld in column_map.items():
        if col not in header:
            raise UserError(f"--map {col}={fld}: no column {col!r} (columns: {', '.join(header)})")
    names = [column_map.get(h, h if h in FIELDS else None) for h in header]
    if "description" not in names and "service_code" not in names:
        raise UserError("the CSV needs a description or service_code column "
                        "(map one with --map COLUMN=description)")
    n = 0
    for row in reader:
        n += 1
        if not any(c.strip() for c in row):
            continue
        obj = {name: value for name, value in zip(names, row, strict=False) if name}
        yield _one(n, obj, tz)


def _chain(sample: str, rest: IO[str]) -> Iterator[str]:
    yield from io.StringIO(sample + rest.readline())
    yield from rest


def parse_map(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        col, sep, fld = item.partition("=")
        if not sep or not col.strip() or not fld.strip():
            raise UserError(f"--map expects COLUMN=FIELD, got {item!r}")
        if fld.strip() not in FIELDS:
            known = ", ".join(FIELDS)
            raise UserError(f"--map {item}: unknown field {fld.strip()!r} (known: {known})")
        out[col.strip()] = fld.strip()
    return out


def open_text(path: Path) -> IO[str]:
    """A file (plain or .gz) as text, UTF-8 (with BOM) or else Latin-1."""
    import gzip

    if not path.is_file():
        raise UserError(f"{path}: no such file")
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # noqa: SIM115
    head = raw.peek(65536)[:65536] if hasattr(raw, "peek") else b""
    enc = "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            enc = "latin-1"
    return io.TextIOWrapper(raw, encoding=enc, errors="replace", newline="")


def read_file(path: Path, fmt: str, tz: str, *, column_map: dict[str, str] | None = None,
              konstanz_map: dict[str, str] | None = None) -> Iterator[Parsed]:
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    fh = open_text(path)
    try:
        if fmt == "open311":
            yield from read_open311(fh, tz)
        elif fmt == "konstanz":
            yield from read_konstanz(fh, tz, konstanz_map or {})
        else:
            yield from read_csv(fh, tz, column_map or {})
    finally:
        fh.close()
