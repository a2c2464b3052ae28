"""The site's own search engine, as simple as many municipal CMS searches: all query
words (minus stop words) must match a page; a word matches an indexed word exactly,
as a prefix (≥ 4 letters), as a compound head, or with one typo if long enough.
Colloquial words are unknown unless the city added them as synonyms."""

from __future__ import annotations

import bisect
import random
import re
from dataclasses import dataclass

from amtspuls.simulate.city import City
from amtspuls.simulate.config import QueryConfig
from amtspuls.simulate.noise import ASCII_UMLAUTS

STOP = frozenset(
    [
        "wie",
        "ich",
        "mein",
        "meine",
        "meinen",
        "einen",
        "eine",
        "ein",
        "einer",
        "der",
        "die",
        "das",
        "den",
        "dem",
        "des",
        "wo",
        "kann",
        "für",
        "fuer",
        "fur",
        "in",
        "im",
        "von",
        "mit",
        "und",
        "oder",
        "was",
        "wann",
        "muss",
        "brauche",
        "bekomme",
        "beantrage",
        "welche",
        "man",
        "zu",
        "zum",
        "zur",
        "an",
        "am",
        "auf",
        "bei",
        "ist",
        "es",
        "stadt",
        "musterstadt",
        "bitte",
        "wer",
        "mir",
        "mich",
        "finde",
        "gibt",
        "es",
        "ob",
        "wieviel",
        "wird",
        "lange",
    ]
)
SECTION_WORDS = (
    "kosten",
    "gebühren",
    "unterlagen",
    "voraussetzungen",
    "zuständigkeit",
    "ansprechpartner",
    "öffnungszeiten",
    "termin",
    "dauer",
    "frist",
    "online",
    "formular",
    "antrag",
    "hinweise",
    "rechtsgrundlage",
)
_WORD = re.compile(r"[a-zäöüß0-9]+")


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class Result:
    count: int
    services: frozenset[int]
    top_url: int


class SiteSearch:
    def __init__(
        self, city: City, cfg: QueryConfig, rnd: random.Random, fold_umlauts: bool = False
    ) -> None:
        self.cfg = cfg
        self.fold = fold_umlauts
        self.doc_service: list[int] = []
        self.doc_url: list[int] = []
        self.doc_page: list[bool] = []  # an HTML page (PDF results are not "clicked")
        index: dict[str, set[int]] = {}
        self.synonyms: list[tuple[int, str]] = []

        def add(words: set[str], service: int, url: int, page: bool = True) -> None:
            d = len(self.doc_service)
            self.doc_service.append(service)
            self.doc_url.append(url)
            self.doc_page.append(page)
            for w in words:
                index.setdefault(self._norm(w), set()).add(d)

        for s in city.services:
            words = set(tokens(f"{s.name} {s.description} {s.department} {' '.join(s.terms)}"))
            words.update(SECTION_WORDS)
            words.update(w for a in s.actions if rnd.random() < 0.5 for w in tokens(a))
            for col in s.colloquial:
                if rnd.random() < cfg.synonym_coverage:
                    words.update(tokens(col))
                    self.synonyms.append((s.idx, col))
            add(words, s.idx, s.page)
            if s.form_page:
                add(set(tokens(f"online antrag formular {s.name}")), s.idx, s.form_page)
            if s.pdf_url:
                add(set(tokens(f"formular pdf antrag {s.name}")), s.idx, s.pdf_url, False)
        for item in city.news:
            if not item.viral:
                add(set(tokens(item.title)), -1, item.url)
        urls = city.urls
        for u in city.events + city.general_pages + city.dept_pages + city.hub_pages:
            add(set(tokens(urls.titles[u].split("|")[0])), -1, u)
        self.index = {w: frozenset(d) for w, d in index.items()}
        self.words = sorted(self.index)
        self.deletes: dict[str, list[str]] = {}
        for w in self.words:
            if len(w) >= cfg.fuzzy_min_len - 1:
                for v in _deletions(w):
                    self.deletes.setdefault(v, []).append(w)
        self._token_cache: dict[str, frozenset[int]] = {}
        self._cache: dict[str, Result] = {}

    def _norm(self, w: str) -> str:
        return w.translate(ASCII_UMLAUTS) if self.fold else w

    def _match(self, tok: str) -> frozenset[int]:
        hit = self._token_cache.get(tok)
        if hit is not None:
            return hit
        docs: set[int] = set()
        exact = self.index.get(tok)
        if exact:
            docs |= exact
        if len(tok) >= 4:  # prefix: "sperrm" finds "sperrmüll"
            i = bisect.bisect_left(self.words, tok)
            while i < len(self.words) and self.words[i].startswith(tok):
                docs |= self.index[self.words[i]]
                i += 1
        if len(tok) >= 6:  # compound: "personalausweisantrag" starts with "personalausweis"
            for k in range(5, len(tok)):
                head = self.index.get(tok[:k])
                if head:
                    docs |= head
        if len(tok) >= self.cfg.fuzzy_min_len and not docs:  # one typo
            cands = set(self.deletes.get(tok, ()))
            for v in _deletions(tok):
                if v in self.index:
                    cands.add(v)
                cands.update(self.deletes.get(v, ()))
            for w in cands:
                docs |= self.index[w]
        out = frozenset(docs)
        self._token_cache[tok] = out
        return out

    def lookup(self, query: str) -> Result:
        found = self._cache.get(query)
        if found is not None:
            return found
        toks = [self._norm(t) for t in tokens(query) if t not in STOP]
        if not toks:
            res = Result(0, frozenset(), 0)
        else:
            docs: frozenset[int] | None = None
            for t in toks:
                m = self._match(t)
                docs = m if docs is None else docs & m
                if not docs:
                    break
            docs = docs or frozenset()
            services = frozenset(self.doc_service[d] for d in docs if self.doc_service[d] >= 0)
            pages = [d for d in docs if self.doc_page[d]]
            top = self.doc_url[min(pages)] if pages else 0
            res = Result(len(docs), services, top)
        self._cache[query] = res
        return res


def _deletions(w: str) -> list[str]:
    return [w[:i] + w[i + 1 :] for i in range(len(w))]
