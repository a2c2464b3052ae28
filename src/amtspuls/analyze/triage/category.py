"""Category suggestion: which service a request is about, with calibrated probabilities.

Features (each explainable on its own):
- word TF-IDF over stemmed tokens of the normalised text (umlauts folded, so
  "Strassenlaterne" and "Straßenlaterne" are one word);
- character n-gram TF-IDF (2–5, within words) of the same text — robust to typos,
  compounds ("Straßenlaternenmast") and inflection;
- where: one-hot cells of ~300 m and ~1 km around the report (some places produce the
  same kind of report again and again), and "no location given", weighted low.

Classifier: a linear SVM (class-balanced) calibrated to probabilities by Platt scaling over
3 folds (scikit-learn `CalibratedClassifierCV`). The same machinery is trained on service
ids (a site's history, bootstrapped from catalogue keywords) or on any other label set
(the Konstanz benchmark)."""

from __future__ import annotations

import hashlib
import math
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from amtspuls.analyze.triage.text import normalise, without_places, words

GEO_CELLS_M = (300.0, 1000.0)
GEO_WEIGHT = 0.25
SVM_C = 0.3
CALIBRATION_FOLDS = 3


@dataclass
class Doc:
    """One text to classify: scrubbed text and (optional) location."""

    text: str
    lat: float | None = None
    lon: float | None = None


def _analyzer_words(text: str) -> list[str]:
    return words(text)


def geo_cells(lat: float | None, lon: float | None) -> list[str]:
    """Grid cells around a location; a report without one gets the cell "no location"
    (in real data such reports are mostly general remarks, not a defect at a place)."""
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return ["g:none"]
    if lat == 0 and lon == 0:
        return ["g:none"]
    y = lat * 111_320.0
    x = lon * 111_320.0 * math.cos(math.radians(lat))
    return [f"g{int(s)}:{math.floor(y / s)}:{math.floor(x / s)}" for s in GEO_CELLS_M]


@dataclass
class CategoryModel:
    """A trained category model. `predict(docs)` gives calibrated probabilities."""

    classes: list[str]
    version: str
    label_set: str
    trained: str
    n_train: int
    params: dict[str, Any] = field(default_factory=dict)
    word_vec: Any = None
    char_vec: Any = None
    geo_vocab: dict[str, int] = field(default_factory=dict)
    clf: Any = None

    # ------------------------------------------------------------------- features
    def _features(self, docs: Sequence[Doc], fit: bool = False):
        texts = [normalise(d.text) for d in docs]
        if fit:
            from sklearn.feature_extraction.text import TfidfVectorizer

            word_vec = TfidfVectorizer(analyzer=_analyzer_words, sublinear_tf=True)
            char_vec = TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True, min_df=2)
            word_vec.fit(texts)
            try:
                char_vec.fit(texts)
            except ValueError:  # too few texts for min_df=2
                char_vec.set_params(min_df=1)
                char_vec.fit(texts)
            # Kept as plain vocabularies and idf weights: a saved model loads without
            # scikit-learn, and one text is transformed in well under a millisecond.
            self.word_vec = {"vocab": dict(word_vec.vocabulary_),
                             "idf": word_vec.idf_.astype(np.float32)}
            self.char_vec = {"vocab": dict(char_vec.vocabulary_),
                             "idf": char_vec.idf_.astype(np.float32)}
            self.geo_vocab = {}
            for d in docs:
                for cell in geo_cells(d.lat, d.lon):
                    self.geo_vocab.setdefault(cell, len(self.geo_vocab))
        w = _tfidf(self.word_vec, texts, _analyzer_words)
        c = _tfidf(self.char_vec, texts, char_ngrams)
        rows, cols = [], []
        for i, d in enumerate(docs):
            for cell in geo_cells(d.lat, d.lon):
                j = self.geo_vocab.get(cell)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        g = sp.csr_matrix((np.full(len(rows), GEO_WEIGHT, dtype=np.float32), (rows, cols)),
                          shape=(len(docs), max(1, len(self.geo_vocab))))
        return sp.hstack([w, c, g], format="csr", dtype=np.float32)

    def text_vectors(self, docs: Sequence[Doc]) -> sp.csr_matrix:
        """Character n-gram TF-IDF rows (l2-normalised) of the texts without street names and
        house numbers: their dot product is the text similarity used for duplicates."""
        texts = [without_places(normalise(d.text)) for d in docs]
        return _tfidf(self.char_vec, texts, char_ngrams)

    # ---------------------------------------------------------------------- train
    @classmethod
    def train(cls, docs: Sequence[Doc], labels: Sequence[str], label_set: str = "service",
              sample_weight: Sequence[float] | None = None) -> CategoryModel:
        if len(docs) != len(labels) or not docs:
            raise ValueError("need at least one labelled text")
        started = time.perf_counter()
        labels = [str(x) for x in labels]
        classes = sorted(set(labels))
        digest = hashlib.sha256()
        for d, y in zip(docs, labels, strict=True):
            digest.update(f"{y}\x00{d.text}\x00{d.lat}\x00{d.lon}\n".encode())
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        model = cls(classes=classes, version=f"{label_set}-{stamp}-{digest.hexdigest()[:10]}",
                    label_set=label_set, trained=stamp, n_train=len(docs),
                    params={"svm_c": SVM_C, "geo_cells_m": list(GEO_CELLS_M),
                            "geo_weight": GEO_WEIGHT, "calibration": "sigmoid",
                            "folds": CALIBRATION_FOLDS, "char_ngrams": [2, 5]})
        x = model._features(docs, fit=True)
        y = np.asarray(labels)
        w = np.asarray(sample_weight, dtype=np.float64) if sample_weight is not None else None
        if len(classes) == 1:
            model.clf = None
        else:
            x, y, w = _at_least(x, y, w, CALIBRATION_FOLDS)
            from sklearn.calibration import CalibratedClassifierCV
            from sklearn.svm import LinearSVC

            clf = CalibratedClassifierCV(
                LinearSVC(C=SVM_C, class_weight="balanced"), method="sigmoid",
                cv=CALIBRATION_FOLDS,
            )
            if w is not None:
                clf.fit(x, y, sample_weight=w)
            else:
                clf.fit(x, y)
            model.classes = [str(c) for c in clf.classes_]
            model.clf = _compact(clf, model.classes)
        model.params["seconds"] = round(time.perf_counter() - started, 3)
        return model

    # -------------------------------------------------------------------- predict
    def predict_proba(self, docs: Sequence[Doc]) -> np.ndarray:
        if self.clf is None:
            return np.ones((len(docs), 1))
        return _proba(self.clf, self._features(docs))

    def top(self, docs: Sequence[Doc], k: int = 3) -> list[list[dict[str, Any]]]:
        """The k most probable labels of each doc: [{"service_id", "probability"}, …]."""
        p = self.predict_proba(docs)
        out = []
        for row in p:
            order = np.argsort(-row, kind="stable")[:k]
            out.append([{"service_id": self.classes[j], "probability": round(float(row[j]), 4)}
                        for j in order])
        return out

    def explain(self, doc: Doc, label: str, n: int = 5) -> list[str]:
        """The features that pushed `doc` most towards `label` (for the model card / UI)."""
        if self.clf is None or label not in self.classes:
            return []
        j = self.classes.index(label)
        x = self._features([doc]).toarray()[0]
        coef = np.zeros(len(x))
        for fold in self.clf:
            rows = np.flatnonzero(fold["index"] == j)
            if len(rows):
                coef += fold["coef"][rows[0]]
            elif len(self.classes) == 2:  # binary: one row for the second class
                coef += fold["coef"][0] * (1 if j == 1 else -1)
        contrib = x * coef
        names = (sorted(self.word_vec["vocab"], key=self.word_vec["vocab"].get)
                 + [f"~{g}" for g in sorted(self.char_vec["vocab"],
                                            key=self.char_vec["vocab"].get)]
                 + sorted(self.geo_vocab, key=self.geo_vocab.get))
        best = np.argsort(-contrib)[:n]
        return [names[i] for i in best if contrib[i] > 0 and i < len(names)]

    # ---------------------------------------------------------------- persistence
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> CategoryModel:
        # Only files this package wrote into the data directory are loaded.
        with path.open("rb") as fh:
            model = pickle.load(fh)
        if not isinstance(model, CategoryModel):
            raise ValueError(f"{path}: not a category model")
        return model


def char_ngrams(text: str, lo: int = 2, hi: int = 5) -> list[str]:
    """Character n-grams within words, each word padded with a space on both sides
    (as scikit-learn's "char_wb"); a word shorter than n gives itself once."""
    out: list[str] = []
    for w in text.split():
        w = f" {w} "
        size = len(w)
        for n in range(lo, hi + 1):
            if size <= n:
                out.append(w)
                break
            out.extend(w[i:i + n] for i in range(size - n + 1))
    return out


def _tfidf(vec: dict, texts: list[str], analyze) -> sp.csr_matrix:
    """TF-IDF rows (sublinear tf, idf, l2 norm) over a fitted vocabulary."""
    vocab, idf = vec["vocab"], vec["idf"]
    indptr, indices, data = [0], [], []
    for t in texts:
        counts: dict[int, int] = {}
        for gram in analyze(t):
            j = vocab.get(gram)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if counts:
            cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            val = (1.0 + np.log(tf)) * idf[cols]
            val /= np.float32(np.sqrt(float((val * val).sum())))
            order = np.argsort(cols)
            indices.append(cols[order])
            data.append(val[order])
            indptr.append(indptr[-1] + len(cols))
        else:
            indptr.append(indptr[-1])
    ind = np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64)
    dat = np.concatenate(data) if data else np.zeros(0, dtype=np.float32)
    return sp.csr_matrix((dat, ind, np.asarray(indptr)), shape=(len(texts), len(vocab)))


def _compact(clf, classes: list[str]) -> list[dict[str, np.ndarray]]:
    """The calibrated SVMs as plain arrays: per fold the linear weights, the classes they
    score, and the Platt parameters (a, b) of each; predicted as scikit-learn does."""
    folds = []
    pos = {c: i for i, c in enumerate(classes)}
    for cc in clf.calibrated_classifiers_:
        est = cc.estimator
        idx = np.array([pos[str(c)] for c in est.classes_])
        if len(classes) == 2:
            idx = np.array([1])
        folds.append({
            "coef": np.asarray(est.coef_, dtype=np.float32),
            "intercept": np.asarray(est.intercept_, dtype=np.float32),
            "index": idx,
            "a": np.array([c.a_ for c in cc.calibrators], dtype=np.float64),
            "b": np.array([c.b_ for c in cc.calibrators], dtype=np.float64),
        })
    return folds


def _proba(folds: list[dict[str, np.ndarray]], x: sp.csr_matrix) -> np.ndarray:
    n_classes = max(int(f["index"].max()) for f in folds) + 1
    n_classes = max(n_classes, 2)
    total = np.zeros((x.shape[0], n_classes))
    for f in folds:
        d = np.asarray(x @ f["coef"].T) + f["intercept"]
        p = np.zeros_like(total)
        p[:, f["index"]] = 1.0 / (1.0 + np.exp(f["a"] * d + f["b"]))
        if n_classes == 2:
            p[:, 0] = 1.0 - p[:, 1]
        else:
            s = p.sum(axis=1, keepdims=True)
            p = np.divide(p, s, out=np.full_like(p, 1.0 / n_classes), where=s != 0)
        total += p
    return total / len(folds)


def _at_least(x, y: np.ndarray, w: np.ndarray | None, k: int):
    """Repeat the examples of classes with fewer than k of them (calibration needs k folds)."""
    extra: list[int] = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < k:
            extra.extend(int(idx[i % len(idx)]) for i in range(k - len(idx)))
    if not extra:
        return x, y, w
    sel = np.concatenate([np.arange(len(y)), np.asarray(extra)])
    return x[sel], y[sel], (w[sel] if w is not None else None)


def keyword_docs(services) -> tuple[list[Doc], list[str]]:
    """Training texts from the catalogue: every keyword, name and description of each
    reportable service (the model of a site without history)."""
    docs, labels = [], []
    for s in services.values():
        texts = [s.name, s.description, *s.keywords]
        # Short combinations as citizens write them ("Laterne kaputt Hauptstraße 3").
        for i, kw in enumerate(s.keywords):
            texts.append(f"{kw} {s.keywords[(i + 1) % len(s.keywords)]}")
        for t in texts:
            if t:
                docs.append(Doc(t))
                labels.append(s.id)
    return docs, labels
