"""The synonym lexicon: words citizens use for each service (data/catalog/synonyms.toml).

A site may extend it with its own TOML of the same form (see `catalog.site`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class LexiconEntry:
    terms: tuple[str, ...] = ()
    context: tuple[str, ...] = ()


@dataclass
class Lexicon:
    entries: dict[str, LexiconEntry] = field(default_factory=dict)

    def merged(self, other: Lexicon) -> Lexicon:
        """This lexicon with another one's words added (per service, duplicates dropped)."""
        out = dict(self.entries)
        for sid, e in other.entries.items():
            old = out.get(sid, LexiconEntry())
            out[sid] = LexiconEntry(
                terms=tuple(dict.fromkeys(old.terms + e.terms)),
                context=tuple(dict.fromkeys(old.context + e.context)),
            )
        return Lexicon(out)


def parse_lexicon(data: dict) -> Lexicon:
    entries = {}
    for sid, table in data.items():
        if not isinstance(table, dict):
            continue
        entries[str(sid)] = LexiconEntry(
            terms=tuple(str(t) for t in table.get("terms", ())),
            context=tuple(str(t) for t in table.get("context", ())),
        )
    return Lexicon(entries)


@lru_cache(maxsize=1)
def bundled_lexicon() -> Lexicon:
    text = resources.files("amtspuls.data").joinpath("catalog/synonyms.toml").read_text("utf-8")
    return parse_lexicon(tomllib.loads(text))


def load_lexicon(path: str | Path) -> Lexicon:
    with Path(path).open("rb") as fh:
        return parse_lexicon(tomllib.load(fh))
