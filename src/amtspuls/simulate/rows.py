"""Column buffers for what a day of visits produces: access-log lines and tracker
events, as integer arrays (URLs, clients, queries are ids into tables)."""

from __future__ import annotations

import numpy as np

from amtspuls.model import EVENT_TYPES

# The tracker's event types the simulator produces (all but custom events), in the
# model's order; their index is the integer code in the column buffers.
EVENT_NAMES = tuple(t for t in EVENT_TYPES if t != "custom")
(
    EV_PAGEVIEW,
    EV_SEARCH,
    EV_DOWNLOAD,
    EV_OUTLINK,
    EV_FORM_START,
    EV_FORM_SUBMIT,
    EV_FORM_ERROR,
    EV_RAGE,
    EV_ENGAGEMENT,
    EV_NOT_FOUND,
) = range(10)
PAGE_EVENTS = (EV_PAGEVIEW, EV_SEARCH, EV_NOT_FOUND)

GET, POST, HEAD = 0, 1, 2
METHODS = ("GET", "POST", "HEAD")

LOG_COLS = {
    "t": np.int64,
    "client": np.int64,
    "method": np.int8,
    "url": np.int64,
    "status": np.int16,
    "ref": np.int64,
}
EVENT_COLS = {
    "t": np.int64,
    "client": np.int64,
    "type": np.int8,
    "url": np.int64,
    "ref": np.int64,
    "query": np.int64,
    "results": np.int32,
    "target": np.int64,
    "form": np.int32,
    "field": np.int32,
    "eng": np.int64,
}


def _col(x, n: int, dtype) -> np.ndarray:
    a = np.asarray(x, dtype=dtype)
    if a.ndim == 0:
        return np.full(n, a, dtype=dtype)
    return a


class Rows:
    def __init__(self) -> None:
        self.log: dict[str, list[np.ndarray]] = {k: [] for k in LOG_COLS}
        self.ev: dict[str, list[np.ndarray]] = {k: [] for k in EVENT_COLS}

    def add_log(self, t, client, url, status, ref, method: int = GET) -> None:
        t = np.asarray(t, dtype=np.int64)
        n = t.size
        if n == 0:
            return
        vals = {
            "t": t,
            "client": client,
            "method": method,
            "url": url,
            "status": status,
            "ref": ref,
        }
        for k, dt in LOG_COLS.items():
            self.log[k].append(_col(vals[k], n, dt))

    def add_event(
        self,
        t,
        client,
        etype,
        url,
        ref=0,
        query=-1,
        results=-1,
        target=0,
        form=-1,
        field=-1,
        eng=-1,
    ) -> None:
        t = np.asarray(t, dtype=np.int64)
        n = t.size
        if n == 0:
            return
        vals = {
            "t": t,
            "client": client,
            "type": etype,
            "url": url,
            "ref": ref,
            "query": query,
            "results": results,
            "target": target,
            "form": form,
            "field": field,
            "eng": eng,
        }
        for k, dt in EVENT_COLS.items():
            self.ev[k].append(_col(vals[k], n, dt))

    @staticmethod
    def _cat(d: dict[str, list[np.ndarray]], cols: dict) -> dict[str, np.ndarray]:
        return {k: (np.concatenate(v) if v else np.zeros(0, dtype=cols[k])) for k, v in d.items()}

    def log_arrays(self) -> dict[str, np.ndarray]:
        return self._cat(self.log, LOG_COLS)

    def event_arrays(self) -> dict[str, np.ndarray]:
        return self._cat(self.ev, EVENT_COLS)


def concat(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def take(a: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in a.items()}
