"""The service catalogue (Leistungen): ids, names, departments, URL rules.

The canonical list ships with the package (`data/leistungen.csv`); a city adds or
overrides services with its own CSV of the same columns. Unknown is `none`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

NONE = "none"


@dataclass(frozen=True)
class Service:
    id: str
    name_de: str
    department: str
    description_de: str

    @property
    def slug(self) -> str:
        """URL slug of the service: its id with dashes (`ausweis_abholen` → `ausweis-abholen`)."""
        return self.id.replace("_", "-")


def _read(path_or_text) -> list[Service]:
    reader = csv.DictReader(path_or_text)
    return [
        Service(
            id=row["id"].strip(),
            name_de=row["name_de"].strip(),
            department=row["department"].strip(),
            description_de=row.get("description_de", "").strip(),
        )
        for row in reader
        if row.get("id", "").strip()
    ]


@lru_cache(maxsize=8)
def load_catalog(extra: str | None = None) -> tuple[Service, ...]:
    """The bundled catalogue, with a city's own CSV (same columns) merged over it."""
    with resources.files("amtspuls.data").joinpath("leistungen.csv").open(encoding="utf-8") as fh:
        services = {s.id: s for s in _read(fh)}
    if extra:
        with Path(extra).open(encoding="utf-8") as fh:
            services.update({s.id: s for s in _read(fh)})
    return tuple(services.values())


def service_ids() -> list[str]:
    return [s.id for s in load_catalog()]


def by_id() -> dict[str, Service]:
    return {s.id: s for s in load_catalog()}


_SEGMENT = re.compile(r"[^/]+")


def service_for_path(path: str, slugs: dict[str, str] | None = None) -> str:
    """Default URL rule: a path belongs to a service when one of its segments (without file
    extension) is the service's slug, or starts with the slug and a dash
    (`/leistungen/personalausweis-beantragen`). The deepest matching segment wins."""
    table = slugs if slugs is not None else slug_table()
    found = NONE
    for seg in _SEGMENT.findall(path.lower()):
        seg = seg.split(".", 1)[0]
        if seg in table:
            found = table[seg]
            continue
        head = seg
        while "-" in head:
            head = head.rsplit("-", 1)[0]
            if head in table:
                found = table[head]
                break
    return found


@lru_cache(maxsize=1)
def slug_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for s in load_catalog():
        table[s.slug] = s.id
        table[s.id] = s.id
    return table
