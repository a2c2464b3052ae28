"""Service requests into the store, as named steps: parse (collect.open311, per format)
→ check the id → scrub the text → store in batches → triage. Every rejected row is
counted by reason and the first ones are listed with line and detail."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amtspuls.analyze.triage.config import _read, config_for
from amtspuls.analyze.triage.engine import Triage
from amtspuls.analyze.triage.text import scrub_request_text
from amtspuls.collect.open311 import IncomingRequest, Parsed, parse_map, read_file
from amtspuls.model import Site
from amtspuls.store.requests_store import RequestStore

BATCH = 1000
MAX_LISTED = 50


def konstanz_map(settings) -> dict[str, str]:
    doc, _ = _read("konstanz_categories.toml", Path(settings.data_dir) if settings else None)
    return {str(k): str(v) for k, v in doc.get("map", {}).items()}


def to_record(site: Site, req: IncomingRequest, source: str, cfg_services: set[str],
              request_id: str | None = None) -> dict[str, Any]:
    """The stored row of a request: scrubbed text for analysis, raw text and contact data
    only for the access-controlled record."""
    code = req.service_code if req.service_code in cfg_services else None
    ext = req.external_category
    if req.service_code and code is None and not ext:
        ext = req.service_code  # a code from another system: kept, triage finds ours
    return {
        "site_id": site.id,
        "service_request_id": request_id or req.service_request_id,
        "token": secrets.token_urlsafe(12),
        "service_code": code,
        "service_id": code or "none",
        "external_category": ext,
        "description": scrub_request_text(req.text) or "",
        "description_raw": req.description_raw or None,
        "contact": req.contact or None,
        "attributes": req.attributes or None,
        "lat": req.lat,
        "long": req.long,
        "address_string": req.address_string,
        "zipcode": req.zipcode,
        "media_url": req.media_url,
        "status": req.status,
        "status_notes": req.status_notes,
        "agency_responsible": None,
        "requested_datetime": req.requested,
        "updated_datetime": req.updated,
        "expected_datetime": req.expected,
        "closed_datetime": req.closed,
        "source": source,
    }


def import_requests(store, site: Site, settings, path: Path, fmt: str,
                    column_map: list[str] | None = None, triage: bool = True,
                    progress=None) -> dict[str, Any]:
    started = time.perf_counter()
    steps: Counter = Counter()
    cfg = config_for(settings)
    services = set(cfg.departments)
    rs = RequestStore(store)
    rejected: Counter = Counter()
    listed: list[dict[str, Any]] = []
    seen: set[str] = set()
    batch: list[dict[str, Any]] = []
    lines = imported = 0
    source = f"import:{fmt}"

    def reject(p: Parsed) -> None:
        rejected[p.reason or "invalid"] += 1
        if len(listed) < MAX_LISTED:
            listed.append({"line": p.line, "reason": p.reason, "detail": p.detail})

    def flush() -> int:
        if not batch:
            return 0
        t0 = time.perf_counter()
        ids = [b["service_request_id"] for b in batch]
        stored = rs.existing_ids(site.id, ids)
        keep = []
        for b in batch:
            if b["service_request_id"] in stored:
                reject(Parsed(b.pop("_line"), reason="already_imported",
                              detail=b["service_request_id"]))
            else:
                b.pop("_line")
                keep.append(b)
        steps["check_ids"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        n = rs.insert_requests(keep)
        steps["store"] += time.perf_counter() - t0
        batch.clear()
        return n

    parsed: Iterable[Parsed] = read_file(
        path, fmt, site.timezone, column_map=parse_map(column_map),
        konstanz_map=konstanz_map(settings) if fmt == "konstanz" else None)
    t_parse = time.perf_counter()
    for p in parsed:
        lines += 1
        steps["parse"] += time.perf_counter() - t_parse
        if p.record is None:
            reject(p)
            t_parse = time.perf_counter()
            continue
        req = p.record
        rid = req.service_request_id or _content_id(req)
        if rid in seen:
            reject(Parsed(p.line, reason="duplicate_id", detail=rid))
            t_parse = time.perf_counter()
            continue
        seen.add(rid)
        t0 = time.perf_counter()
        rec = to_record(site, req, source, services, rid)
        rec["_line"] = p.line
        steps["scrub"] += time.perf_counter() - t0
        batch.append(rec)
        if len(batch) >= BATCH:
            imported += flush()
            if progress:
                progress(lines)
        t_parse = time.perf_counter()
    imported += flush()
    triaged = 0
    if triage and imported:
        t0 = time.perf_counter()
        triaged = len(Triage(store, site, settings).run_all())
        steps["triage"] += time.perf_counter() - t0
    return {
        "site": site.domain,
        "file": str(path),
        "format": fmt,
        "rows": lines,
        "imported": imported,
        "rejected": sum(rejected.values()),
        "rejected_by_reason": dict(sorted(rejected.items())),
        "rejected_rows": listed,
        "triaged": triaged,
        "seconds": round(time.perf_counter() - started, 3),
        "step_seconds": {k: round(v, 3) for k, v in steps.items()},
    }


def _content_id(req: IncomingRequest) -> str:
    import hashlib

    h = hashlib.sha256(f"{req.requested.isoformat()}\x00{req.description_raw}\x00{req.lat}\x00"
                       f"{req.long}".encode()).hexdigest()[:16]
    return f"imp-{h}"


def submit_request(store, site: Site, settings, req: IncomingRequest) -> tuple[dict, dict]:
    """A request POSTed by an Open311 client: stored with a new id, triaged at once.
    Returns (stored record, triage result)."""
    cfg = config_for(settings)
    rs = RequestStore(store)
    with store._lock:  # one id per request, also with concurrent clients
        rid = rs.next_request_id(site.id, req.requested.year)
        rec = to_record(site, req, "open311", set(cfg.departments), rid)
        rs.insert_requests([rec])
    results = Triage(store, site, settings).run_new([rid],
                                                    as_of=datetime.now(UTC).replace(tzinfo=None))
    return rec, (results[0] if results else {})
