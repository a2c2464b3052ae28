"""Duplicate reports: the same problem reported by several people.

A pair of requests is a candidate when they are close in space (haversine) and time;
its score is a weighted sum of text similarity (cosine of character n-gram TF-IDF),
agreement of the suggested categories (dot product of the two probability vectors),
nearness and recency, less a penalty when the two addresses name different streets (a
pothole is on one street; two look-alike reports 80 m apart on two streets are mostly two
problems). Pairs at or above the threshold are linked, and the connected components
(union-find) are the incidents. Parameters are data (`data/triage/duplicates.toml`)."""

from __future__ import annotations

import math
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


@dataclass
class DupParams:
    radius_m: float = 120.0
    window_days: float = 30.0
    time_half_life_days: float = 4.0
    threshold: float = 0.669
    w_text: float = 0.070
    w_category: float = 0.317
    w_distance: float = 0.049
    w_time: float = 0.564
    street_penalty: float = 0.2

    @classmethod
    def load(cls, data_dir: Path | None = None) -> DupParams:
        raw = resources.files("amtspuls.data").joinpath("triage", "duplicates.toml").read_text(
            encoding="utf-8")
        doc = tomllib.loads(raw)
        if data_dir is not None and (data_dir / "triage" / "duplicates.toml").is_file():
            own = tomllib.loads((data_dir / "triage" / "duplicates.toml").read_text("utf-8"))
            doc.update({k: v for k, v in own.items() if k != "weights"})
            doc.setdefault("weights", {}).update(own.get("weights", {}))
        w = doc.get("weights", {})
        d = cls()
        return cls(radius_m=float(doc.get("radius_m", d.radius_m)),
                   window_days=float(doc.get("window_days", d.window_days)),
                   time_half_life_days=float(doc.get("time_half_life_days",
                                                     d.time_half_life_days)),
                   threshold=float(doc.get("threshold", d.threshold)),
                   w_text=float(w.get("text", d.w_text)),
                   w_category=float(w.get("category", d.w_category)),
                   w_distance=float(w.get("distance", d.w_distance)),
                   w_time=float(w.get("time", d.w_time)),
                   street_penalty=float(doc.get("street_penalty", d.street_penalty)))


def haversine_m(lat1, lon1, lat2, lon2):
    """Great-circle distance in metres (scalars or numpy arrays)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass
class DupInput:
    """What duplicate detection sees of the requests, as parallel arrays (sorted by time)."""

    ids: list[str]
    t: np.ndarray  # seconds since epoch (UTC)
    lat: np.ndarray  # NaN when unknown
    lon: np.ndarray
    cat: np.ndarray  # (n, k) category probabilities
    text: Any  # (n, m) sparse, rows l2-normalised
    street: list[str] | None = None  # street_key of the address ("" when unknown)


def candidates(x: DupInput, params: DupParams, new: np.ndarray | None = None
               ) -> dict[str, np.ndarray]:
    """Every pair (i earlier than j) within the radius and time window, with its parts:
    text and category similarity, distance (metres) and time apart (days).
    `new`: only pairs whose later request is among these indices (incremental triage)."""
    window = params.window_days * 86400.0
    has_loc = ~(np.isnan(x.lat) | np.isnan(x.lon))
    order = np.argsort(x.t, kind="stable")
    ts = x.t[order]
    targets = order if new is None else np.asarray(new, dtype=np.int64)
    parts: dict[str, list] = {k: [] for k in ("i", "j", "text", "category", "metres", "days",
                                              "street_differs")}
    for j in targets.tolist():
        if not has_loc[j]:
            continue
        lo = int(np.searchsorted(ts, x.t[j] - window, side="left"))
        hi = int(np.searchsorted(ts, x.t[j], side="right"))
        cand = order[lo:hi]
        cand = cand[(cand != j) & has_loc[cand]]
        # earlier ones (ties broken by position, so that each pair is seen once)
        cand = cand[(x.t[cand] < x.t[j]) | ((x.t[cand] == x.t[j]) & (cand < j))]
        if not len(cand):
            continue
        d = haversine_m(x.lat[j], x.lon[j], x.lat[cand], x.lon[cand])
        near = d <= params.radius_m
        if not near.any():
            continue
        cand, d = cand[near], d[near]
        parts["i"].append(cand)
        parts["j"].append(np.full(len(cand), j))
        parts["text"].append(np.asarray((x.text[cand] @ x.text[j].T).todense()).ravel())
        parts["category"].append(_cat_similarity(x.cat[cand], x.cat[j]))
        parts["metres"].append(d)
        parts["days"].append((x.t[j] - x.t[cand]) / 86400.0)
        parts["street_differs"].append(_street_differs(x.street, cand, j))
    return {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in parts.items()}


def score(c: dict[str, np.ndarray], params: DupParams) -> np.ndarray:
    """Weighted sum of text similarity, category agreement, nearness (1 at 0 m, 0 at the
    radius) and recency (halves every `time_half_life_days`), less `street_penalty` when
    both addresses are known and name different streets (not a veto: a report at a corner
    may name the cross street, and a fresh, alike report still links)."""
    near = np.clip(1.0 - c["metres"] / params.radius_m, 0.0, 1.0)
    recent = np.power(0.5, c["days"] / params.time_half_life_days)
    differs = c.get("street_differs")
    if differs is None or len(differs) != len(near):
        differs = np.zeros(len(near))
    return (params.w_text * c["text"] + params.w_category * c["category"]
            + params.w_distance * near + params.w_time * recent
            - params.street_penalty * differs)


_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})
_HOUSE_NUMBER = re.compile(r"\s*\d+\s*[a-z]?(?:\s*[-/+]\s*\d+\s*[a-z]?)?\s*$")
_POSTCODE_ON = re.compile(r"\s\d{5}\b.*$")
_STREET_ABBREV = re.compile(r"(?<=[a-z])str\b\.?|\bstr\b\.?")


def street_key(address: str | None) -> str:
    """The street of an address, comparable across spellings: "Hauptstraße 12a, 78462
    Konstanz" → "hauptstrasse" (case, umlauts and ß folded, "Str." written out, house
    number and town dropped). "" when there is none."""
    if not address:
        return ""
    head = unicodedata.normalize("NFKD", address.split(",")[0].lower().translate(_FOLD))
    head = "".join(ch for ch in head if not unicodedata.combining(ch))
    head = _POSTCODE_ON.sub("", f" {head}")
    head = _STREET_ABBREV.sub("strasse", head)
    head = _HOUSE_NUMBER.sub("", head)
    head = re.sub(r"[^a-z0-9]+", " ", head).strip()
    return "" if not re.search(r"[a-z]{3}", head) else head


def _street_differs(streets: list[str] | None, cand: np.ndarray, j: int) -> np.ndarray:
    """1 where both requests have a street and the streets differ, else 0."""
    if streets is None or not streets[j]:
        return np.zeros(len(cand))
    mine = streets[j]
    return np.array([1.0 if streets[i] and streets[i] != mine else 0.0
                     for i in cand.tolist()])


def link(x: DupInput, params: DupParams, c: dict[str, np.ndarray] | None = None,
         anchors: dict[int, bool] | None = None) -> list[tuple[int, int, float]]:
    """The links (i, j, score): each request j is linked to the best-scoring earlier
    request i that is the first report of its incident, if the score reaches the
    threshold. Linking to first reports only keeps chains of look-alike reports from
    drifting across a street. `anchors`: what is known of earlier requests outside
    `c` (index → is a first report)."""
    if c is None:
        c = candidates(x, params)
    s = score(c, params)
    ok = (s >= params.threshold) & (c["metres"] <= params.radius_m) & (
        c["days"] <= params.window_days)
    by_j: dict[int, list[tuple[float, int]]] = {}
    for k in np.flatnonzero(ok).tolist():
        by_j.setdefault(int(c["j"][k]), []).append((-float(s[k]), int(c["i"][k])))
    known = dict(anchors or {})
    is_first = dict(known)
    links = []
    for j in sorted(range(len(x.ids)), key=lambda q: (x.t[q], q)):
        if j in known:
            continue
        first = True
        for neg, i in sorted(by_j.get(j, ())):
            if is_first.get(i, True):
                links.append((i, j, round(-neg, 4)))
                first = False
                break
        is_first[j] = first
    return links


def _cat_similarity(many: np.ndarray, one: np.ndarray) -> np.ndarray:
    """Cosine of the category probability vectors (1: surely the same category)."""
    num = many @ one
    den = np.linalg.norm(many, axis=1) * max(float(np.linalg.norm(one)), 1e-12)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def components(n: int, pairs: list[tuple[int, int, float]]) -> list[int]:
    """Union-find: the root (smallest index by insertion order) of each element."""
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j, _ in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return [find(a) for a in range(n)]


def group_ids(x: DupInput, pairs: list[tuple[int, int, float]]) -> list[str]:
    """Each request's incident id: the id of the earliest request of its component."""
    roots = components(len(x.ids), pairs)
    first: dict[int, int] = {}
    for i, r in enumerate(roots):
        k = first.get(r)
        if k is None or (x.t[i], i) < (x.t[k], k):
            first[r] = i
    return [x.ids[first[r]] for r in roots]


def pairwise_f1(pred_groups: list[Any], true_groups: list[Any]) -> dict[str, float]:
    """Precision, recall and F1 over all pairs of requests put into one group."""

    def pairs(groups: list[Any]) -> set[tuple[int, int]]:
        by: dict[Any, list[int]] = {}
        for i, g in enumerate(groups):
            by.setdefault(g, []).append(i)
        out = set()
        for members in by.values():
            for a in range(len(members)):
                for b in range(a + 1, len(members)):
                    out.add((members[a], members[b]))
        return out

    p, t = pairs(pred_groups), pairs(true_groups)
    tp = len(p & t)
    precision = tp / len(p) if p else 1.0
    recall = tp / len(t) if t else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "pairs_predicted": len(p), "pairs_true": len(t)}


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return float(haversine_m(lat1, lon1, lat2, lon2)) if not any(
        v is None or math.isnan(v) for v in (lat1, lon1, lat2, lon2)) else float("nan")
