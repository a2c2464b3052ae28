"""A site's own service catalogue: URL patterns and extra synonyms per service.

The file lives in the data directory (`DATA/catalog/DOMAIN.toml`) and is initialised from
the bundled `leistungen.csv`, one table per service:

    [services.personalausweis]
    name = "Personalausweis beantragen"
    department = "Bürgerbüro"
    slugs = ["personalausweis"]      # a path segment equal to the slug or starting "slug-"
    patterns = []                    # shell-style path patterns, e.g. "/buergerservice/perso*"
    terms = []                       # extra words for this service on this site
    context = []

A city edits it to add its own URL patterns, words or services. Without a file the
defaults apply (the slug rule of `catalog.service_for_path`).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from amtspuls.catalog import NONE, Service, load_catalog, service_for_path
from amtspuls.catalog.lexicon import Lexicon, LexiconEntry, bundled_lexicon


@dataclass
class SiteService:
    service: Service
    slugs: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    context: tuple[str, ...] = ()


@dataclass
class SiteCatalog:
    domain: str
    services: dict[str, SiteService] = field(default_factory=dict)
    source: str = "default"

    def __post_init__(self) -> None:
        self._slugs = {}
        self._patterns: list[tuple[str, str]] = []
        for sid, s in self.services.items():
            for slug in s.slugs:
                self._slugs[slug.lower()] = sid
            self._slugs.setdefault(sid, sid)
            for p in s.patterns:
                self._patterns.append((p.lower(), sid))
        # The most specific (longest) pattern wins.
        self._patterns.sort(key=lambda ps: -len(ps[0]))

    def service_list(self) -> list[Service]:
        return [s.service for s in self.services.values()]

    def service_for_path(self, path: str | None) -> str:
        """Service of a URL path: the site's patterns first, then the slug rule."""
        p = (path or "/").split("?", 1)[0].lower()
        for pattern, sid in self._patterns:
            if fnmatchcase(p, pattern):
                return sid
        return service_for_path(p, self._slugs)

    def lexicon(self) -> Lexicon:
        """The bundled lexicon with this site's words added."""
        own = Lexicon({sid: LexiconEntry(s.terms, s.context)
                       for sid, s in self.services.items() if s.terms or s.context})
        return bundled_lexicon().merged(own)


def catalog_path(data_dir: str | Path, domain: str) -> Path:
    safe = "".join(c if c.isalnum() or c in ".-_" else "_" for c in domain.lower())
    return Path(data_dir) / "catalog" / f"{safe}.toml"


def default_site_catalog(domain: str) -> SiteCatalog:
    return SiteCatalog(domain, {s.id: SiteService(s, (s.slug,)) for s in load_catalog()})


def load_site_catalog(data_dir: str | Path | None, domain: str) -> SiteCatalog:
    """The site's catalogue file if it exists, else the defaults from leistungen.csv."""
    if data_dir is None:
        return default_site_catalog(domain)
    path = catalog_path(data_dir, domain)
    if not path.is_file():
        return default_site_catalog(domain)
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    base = {s.id: s for s in load_catalog()}
    services: dict[str, SiteService] = {}
    for sid, t in (data.get("services") or {}).items():
        if not isinstance(t, dict):
            continue
        known = base.get(sid)
        svc = Service(
            id=sid,
            name_de=str(t.get("name") or (known.name_de if known else sid)),
            department=str(t.get("department") or (known.department if known else "")),
            description_de=str(t.get("description") or (known.description_de if known else "")),
        )
        services[sid] = SiteService(
            svc,
            tuple(t.get("slugs", (svc.slug,))),
            tuple(t.get("patterns", ())),
            tuple(t.get("terms", ())),
            tuple(t.get("context", ())),
        )
    return SiteCatalog(domain, services, source=str(path))


def write_site_catalog(data_dir: str | Path, catalog: SiteCatalog) -> Path:
    """Write a catalogue file (used to initialise it from the defaults)."""
    path = catalog_path(data_dir, catalog.domain)
    path.parent.mkdir(parents=True, exist_ok=True)
    q = json.dumps  # a JSON string is a valid TOML basic string
    lines = [
        f"# Service catalogue of {catalog.domain} (amtspuls), initialised from leistungen.csv.",
        "# slugs: a path segment equal to the slug or starting with 'slug-' belongs to the",
        "# service; patterns: shell-style path patterns (longest wins, checked first);",
        "# terms/context: extra search words for this site (see data/catalog/synonyms.toml).",
        "",
    ]
    for sid, s in catalog.services.items():
        lines += [
            f"[services.{sid}]",
            f"name = {q(s.service.name_de, ensure_ascii=False)}",
            f"department = {q(s.service.department, ensure_ascii=False)}",
            f"slugs = {q(list(s.slugs), ensure_ascii=False)}",
            f"patterns = {q(list(s.patterns), ensure_ascii=False)}",
            f"terms = {q(list(s.terms), ensure_ascii=False)}",
            f"context = {q(list(s.context), ensure_ascii=False)}",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


__all__ = ["NONE", "SiteCatalog", "SiteService", "catalog_path", "default_site_catalog",
           "load_site_catalog", "write_site_catalog"]
