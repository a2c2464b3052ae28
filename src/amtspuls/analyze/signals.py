"""Early-warning signals: what is counted per minute, per site and per service (or page
group, the first path segment, for pages that belong to no service).

A *metric* is a raw count per minute and key (`visits` of `sperrmuell`, `form_starts` of
`wohngeld`, `searches` of the whole site `*` …). A *signal* is what the detector scores:
a count (a metric) or a rate (a metric per unit of another: validation errors per form
start). Signals are created when their key is first seen; the families are data:
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from amtspuls.catalog import NONE

SITE = "*"


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # count | rate
    numerator: str
    denominator: tuple[str, ...] = ()
    up: bool = True
    down: bool = False
    site_only: bool = False
    label_de: str = ""
    # Rate signals: prior rate and its weight (in denominator units), cap on the
    # predictive shape (extra variance for clustered events such as repeated errors).
    prior_rate: float = 0.0
    prior_weight: float = 0.0
    max_shape: float = 50.0


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("traffic", "count", "visits", up=True, down=True, site_only=True,
           label_de="Besuche der Website"),
    Family("visits", "count", "visits", up=True, down=True, label_de="Besuche"),
    Family("searches", "count", "searches", up=True, down=True, site_only=True,
           label_de="Suchanfragen"),
    Family("form_starts", "count", "form_starts", up=False, down=True,
           label_de="begonnene Formulare"),
    Family("form_submits", "count", "form_submits", up=False, down=True,
           label_de="abgeschickte Formulare"),
    Family("validation_error_rate", "rate", "validation_errors", ("form_starts",),
           label_de="Eingabefehler je begonnenem Formular", prior_rate=0.2, prior_weight=20,
           max_shape=30),
    Family("submit_error_rate", "rate", "submit_errors", ("form_submits", "submit_errors"),
           label_de="fehlgeschlagene Absendungen", prior_rate=0.002, prior_weight=500,
           max_shape=30),
    Family("zero_result_rate", "rate", "zero_results", ("searches",), site_only=True,
           label_de="Suchen ohne Treffer", prior_rate=0.1, prior_weight=50, max_shape=200),
    Family("not_found_rate", "rate", "not_found", ("pageviews", "not_found"), site_only=True,
           label_de="Aufrufe nicht gefundener Seiten (404)", prior_rate=0.005,
           prior_weight=200, max_shape=200),
    Family("requests", "count", "requests", up=True, down=False,
           label_de="Meldungen (Open311)"),
    # Visits that *enter* a service or page group from a social network or a campaign
    # link (UTM parameters, a QR code on a letter). Few visitors arrive this way, so a
    # shared news item or a letter to all households stands out within the first hour
    # or hours, long before the extra visits are visible among all visits of the page.
    Family("social_entries", "count", "entries_social", up=True, down=False,
           label_de="Besuche über soziale Netzwerke"),
    Family("campaign_entries", "count", "entries_campaign", up=True, down=False,
           label_de="Besuche über Kampagnenlinks (QR-Code, Newsletter)"),
)}

# Which families a newly seen metric key brings along.
FAMILIES_OF_METRIC: dict[str, tuple[str, ...]] = {
    "visits": ("visits",),
    "searches": ("searches", "zero_result_rate"),
    "zero_results": ("zero_result_rate",),
    "form_starts": ("form_starts", "validation_error_rate"),
    "validation_errors": ("validation_error_rate",),
    "form_submits": ("form_submits", "submit_error_rate"),
    "submit_errors": ("submit_error_rate",),
    "pageviews": ("not_found_rate",),
    "not_found": ("not_found_rate",),
    "requests": ("requests",),
    "entries_social": ("social_entries",),
    "entries_campaign": ("campaign_entries",),
}


def service_of_key(key: str, family: str) -> str:
    """The catalogue service id of a signal key (`none` for page groups and the site)."""
    if key == SITE or key.startswith("/"):
        return NONE
    return key


class Registry:
    """Metrics and signals seen so far, each with a stable row index."""

    def __init__(self) -> None:
        self.metrics: list[tuple[str, str]] = []
        self.metric_index: dict[tuple[str, str], int] = {}
        self.signals: list[tuple[str, str]] = []  # (family, key)
        self.signal_index: dict[tuple[str, str], int] = {}
        self.num: list[int] = []
        self.den: list[tuple[int, ...]] = []

    # -- (de)serialisation -------------------------------------------------------------
    def to_json(self) -> dict:
        return {"metrics": [list(m) for m in self.metrics],
                "signals": [list(s) for s in self.signals]}

    @classmethod
    def from_json(cls, doc: dict) -> Registry:
        reg = cls()
        for m, k in doc["metrics"]:
            reg.metric(m, k)
        for f, k in doc["signals"]:
            reg._add_signal(f, k)
        return reg

    # -- growth ------------------------------------------------------------------------
    def metric(self, name: str, key: str) -> int:
        idx = self.metric_index.get((name, key))
        if idx is None:
            idx = len(self.metrics)
            self.metrics.append((name, key))
            self.metric_index[(name, key)] = idx
        return idx

    def _add_signal(self, family: str, key: str) -> int:
        idx = self.signal_index.get((family, key))
        if idx is not None:
            return idx
        fam = FAMILIES[family]
        idx = len(self.signals)
        self.signals.append((family, key))
        self.signal_index[(family, key)] = idx
        self.num.append(self.metric(fam.numerator, key))
        self.den.append(tuple(self.metric(d, key) for d in fam.denominator))
        return idx

    def observe(self, name: str, key: str) -> int:
        """Register a metric key seen in the data and the signals it brings along."""
        idx = self.metric(name, key)
        for family in FAMILIES_OF_METRIC.get(name, ()):
            if name == "visits":
                self._add_signal("traffic" if key == SITE else "visits", key)
                continue
            if FAMILIES[family].site_only and key != SITE:
                continue
            self._add_signal(family, key)
        return idx

    @property
    def n_signals(self) -> int:
        return len(self.signals)

    def family_of(self, s: int) -> Family:
        return FAMILIES[self.signals[s][0]]

    def parent(self, s: int) -> int:
        """The signal whose hour-of-week profile a sparse signal borrows (site traffic,
        or all requests for request categories); -1 while it does not exist."""
        family, key = self.signals[s]
        if family == "requests":
            return self.signal_index.get(("requests", SITE), -1)
        return self.signal_index.get(("traffic", SITE), -1)


class VisitCounter:
    """Sessions per metric key and minute from (session, metric key, minute) rows,
    incrementally: a session counts once for a key (a visit of a page group, a form
    error of a form) until it has been quiet on that key for 30 minutes. Carries the
    last minute of recent (session, key) pairs from one chunk to the next."""

    def __init__(self, timeout_minutes: int = 30) -> None:
        self.timeout = int(timeout_minutes)
        self.sess = np.zeros(0, dtype=np.uint64)
        self.key = np.zeros(0, dtype=np.int64)
        self.minute = np.zeros(0, dtype=np.int64)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"visit_sess": self.sess, "visit_key": self.key, "visit_minute": self.minute}

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.sess = arrays["visit_sess"].astype(np.uint64)
        self.key = arrays["visit_key"].astype(np.int64)
        self.minute = arrays["visit_minute"].astype(np.int64)

    def count(self, sess: np.ndarray, key: np.ndarray, minute: np.ndarray, hi_minute: int
              ) -> tuple[np.ndarray, np.ndarray]:
        """New visits as (metric key index, minute) rows; `hi_minute` is the chunk's end."""
        s = np.concatenate([self.sess, sess.astype(np.uint64)])
        k = np.concatenate([self.key, key.astype(np.int64)])
        m = np.concatenate([self.minute, minute.astype(np.int64)])
        carry = np.zeros(len(s), dtype=bool)
        carry[: len(self.sess)] = True
        if not len(s):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        order = np.lexsort((m, k, s))
        s, k, m, carry = s[order], k[order], m[order], carry[order]
        same = np.zeros(len(s), dtype=bool)
        same[1:] = (s[1:] == s[:-1]) & (k[1:] == k[:-1])
        gap = np.zeros(len(s), dtype=np.int64)
        gap[1:] = m[1:] - m[:-1]
        new_visit = ~same | (gap > self.timeout)
        counted = new_visit & ~carry
        last = np.ones(len(s), dtype=bool)
        last[:-1] = ~same[1:]
        keep = last & (m >= hi_minute - self.timeout)
        self.sess, self.key, self.minute = s[keep], k[keep], m[keep]
        return k[counted], m[counted]


def chunk_matrix(registry: Registry, visits: VisitCounter, pages: pa.Table, counts: pa.Table,
                 lo_minute: int, hi_minute: int) -> np.ndarray:
    """Counts per metric (rows, in registry order after registering new keys) and minute
    (columns lo_minute … hi_minute-1) of one chunk of facts."""
    width = hi_minute - lo_minute
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    if pages.num_rows:
        key_idx, is_visit = _encode(registry, pages)
        sess = pages.column("session_id").to_numpy().astype(np.uint64)
        minute = pages.column("minute").to_numpy().astype(np.int64)
        site_idx = registry.observe("visits", SITE)
        # Site visits: one row per session and minute with a page.
        sm = np.unique(np.stack([sess[is_visit].view(np.int64), minute[is_visit]]), axis=1)
        all_sess = np.concatenate([sess, sm[0].view(np.uint64)])
        all_key = np.concatenate([key_idx, np.full(sm.shape[1], site_idx, dtype=np.int64)])
        all_min = np.concatenate([minute, sm[1]])
        k, m = visits.count(all_sess, all_key, all_min, hi_minute)
        rows.append(k)
        cols.append(m - lo_minute)
        vals.append(np.ones(len(k), dtype=np.float64))
    else:
        visits.count(np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                     hi_minute)
    if counts.num_rows:
        idx, _ = _encode(registry, counts)
        minute = counts.column("minute").to_numpy().astype(np.int64)
        n = counts.column("n").to_numpy().astype(np.float64)
        rows.append(idx)
        cols.append(minute - lo_minute)
        vals.append(n)
        req = np.array([registry.metrics[i][0] == "requests" and registry.metrics[i][1] != SITE
                        for i in idx.tolist()], dtype=bool) if len(idx) else np.zeros(0, bool)
        if req.any():
            site_req = registry.observe("requests", SITE)
            rows.append(np.full(int(req.sum()), site_req, dtype=np.int64))
            cols.append(minute[req] - lo_minute)
            vals.append(n[req])
    out = np.zeros((len(registry.metrics), width), dtype=np.float64)
    if rows:
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        v = np.concatenate(vals)
        ok = (c >= 0) & (c < width)
        np.add.at(out, (r[ok], c[ok]), v[ok])
    return out


def _encode(registry: Registry, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Metric index of each (metric, key) row, registering new ones; and whether the row
    is a page visit."""
    joined = pc.binary_join_element_wise(table.column("metric"), table.column("key"), "\x1f")
    enc = pc.dictionary_encode(joined).combine_chunks()
    uniq = enc.dictionary.to_pylist()
    index = np.array([registry.observe(*u.split("\x1f", 1)) for u in uniq], dtype=np.int64)
    visit = np.array([u.startswith("visits\x1f") for u in uniq], dtype=bool)
    codes = enc.indices.to_numpy(zero_copy_only=False)
    return index[codes], visit[codes]
