"""The triage rules as data: reportable services, priority rules, SLA targets.

Bundled files live in `amtspuls/data/triage/`; a city's own files of the same names in
`DATA/triage/` are merged over them (tables merged key by key, lists replaced)."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from amtspuls.catalog import by_id
from amtspuls.errors import UserError


@dataclass(frozen=True)
class Attribute:
    code: str
    description: str
    datatype: str
    required: bool
    values: tuple[str, ...] = ()
    order: int = 0


@dataclass(frozen=True)
class ReportableService:
    id: str
    name: str
    description: str
    department: str
    group: str
    keywords: tuple[str, ...]
    sla_days: int
    attributes: tuple[Attribute, ...] = ()


@dataclass(frozen=True)
class TriageConfig:
    services: dict[str, ReportableService]
    priority: dict[str, Any]
    sla: dict[str, Any]
    digest: str = ""
    departments: dict[str, str] = field(default_factory=dict)

    def department(self, service_id: str) -> str | None:
        return self.departments.get(service_id)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _read(name: str, data_dir: Path | None) -> tuple[dict, bytes]:
    raw = resources.files("amtspuls.data").joinpath("triage", name).read_bytes()
    doc = tomllib.loads(raw.decode("utf-8"))
    if data_dir is not None:
        own = data_dir / "triage" / name
        if own.is_file():
            own_raw = own.read_bytes()
            try:
                doc = _merge(doc, tomllib.loads(own_raw.decode("utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise UserError(f"{own}: not valid TOML ({exc})") from None
            raw += own_raw
    return doc, raw


@lru_cache(maxsize=8)
def load_config(data_dir: str | None = None) -> TriageConfig:
    d = Path(data_dir) if data_dir else None
    svc_doc, a = _read("services.toml", d)
    prio, b = _read("priority_rules.toml", d)
    sla, c = _read("sla.toml", d)
    catalogue = by_id()
    services: dict[str, ReportableService] = {}
    for sid, spec in svc_doc.get("services", {}).items():
        entry = catalogue.get(sid)
        if entry is None:
            raise UserError(f"triage/services.toml: {sid!r} is not a service of the catalogue")
        attrs = tuple(
            Attribute(code=code, description=str(a_spec.get("description", code)),
                      datatype=str(a_spec.get("datatype", "string")),
                      required=bool(a_spec.get("required", False)),
                      values=tuple(str(v) for v in a_spec.get("values", ())), order=i + 1)
            for i, (code, a_spec) in enumerate(spec.get("attributes", {}).items())
        )
        services[sid] = ReportableService(
            id=sid, name=entry.name_de, description=entry.description_de,
            department=entry.department, group=str(spec.get("group", "Sonstiges")),
            keywords=tuple(str(k) for k in spec.get("keywords", ())),
            sla_days=int(spec.get("sla_days", sla.get("default_days", 10))), attributes=attrs,
        )
    departments = {s.id: s.department for s in catalogue.values()}
    digest = hashlib.sha256(a + b + c).hexdigest()[:12]
    return TriageConfig(services, prio, sla, digest, departments)


def config_for(settings) -> TriageConfig:
    return load_config(str(settings.data_dir) if settings is not None else None)
