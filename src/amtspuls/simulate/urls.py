"""The URL table: every path the simulated site serves (and every external URL it
links to or is linked from), interned to an integer id so that visits are arrays."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote_plus

import numpy as np

# Kinds of URL.
PAGE, FORM, CONFIRM, PDF, ASSET, SEARCH, REMOVED, OLD, EXTERNAL, NEWS, FEED = range(11)

_TRANSLIT = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"}
)


def slugify(text: str) -> str:
    s = text.translate(_TRANSLIT).lower()
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")


class Urls:
    """Interned URLs. Id 0 is "no URL" (a direct visit's referrer)."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.base = f"https://{host}"
        self.paths: list[str] = [""]
        self.kinds: list[int] = [EXTERNAL]
        self.titles: list[str] = [""]
        self.sizes: list[int] = [0]
        self.index: dict[str, int] = {"": 0}

    def add(self, path: str, kind: int = PAGE, title: str = "", size: int = 0) -> int:
        found = self.index.get(path)
        if found is not None:
            return found
        uid = len(self.paths)
        self.paths.append(path)
        self.kinds.append(kind)
        self.titles.append(title)
        self.sizes.append(size)
        self.index[path] = uid
        return uid

    def search(self, query: str, size: int) -> int:
        """The results page of a site search (dynamic, one id per distinct query)."""
        return self.add("/suche?q=" + quote_plus(query), SEARCH, "Suche | Stadt Musterstadt", size)

    def full(self, uid: int) -> str:
        """What a browser sends as referrer / what the tracker reports as url."""
        p = self.paths[uid]
        if not p:
            return ""
        return p if p.startswith("http") else self.base + p

    def __len__(self) -> int:
        return len(self.paths)

    def kind_array(self) -> np.ndarray:
        return np.asarray(self.kinds, dtype=np.int8)
