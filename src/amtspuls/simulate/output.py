"""Turning rows into bytes: Apache combined log lines and tracker JSON lines, built
from interned fragments (one join per day), and deterministic gzip writers that
compress on a background thread (zlib releases the GIL)."""

from __future__ import annotations

import gzip
import queue
import threading
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import orjson

from amtspuls.simulate.city import NOT_FOUND_SIZE, NOT_FOUND_TITLE
from amtspuls.simulate.clients import PROTOCOLS
from amtspuls.simulate.rows import (
    EV_DOWNLOAD,
    EV_ENGAGEMENT,
    EV_FORM_ERROR,
    EV_FORM_START,
    EV_FORM_SUBMIT,
    EV_OUTLINK,
    EV_SEARCH,
    EVENT_NAMES,
    HEAD,
    METHODS,
    PAGE_EVENTS,
)
from amtspuls.simulate.timeline import Clock
from amtspuls.simulate.urls import NEWS, PAGE, REMOVED, SEARCH
from amtspuls.simulate.world import World

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EPOCH = date(1970, 1, 1)


def _obj(items: list) -> np.ndarray:
    a = np.empty(len(items), dtype=object)
    a[:] = items
    return a


_HMS = _obj(
    [f"{h:02d}:{m:02d}:{s:02d}".encode() for h in range(24) for m in range(60) for s in range(60)]
)
_MS = _obj([f".{ms:03d}".encode() for ms in range(1000)])


def _off(minutes: int, colon: bool) -> str:
    sign = "+" if minutes >= 0 else "-"
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h:02d}:{m:02d}" if colon else f"{sign}{h:02d}{m:02d}"


def _local(clock: Clock, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local day number (since 1970), second of day, and UTC offset in minutes."""
    off = clock.offset_min(t)
    local = t // 1000 + off * 60
    return local // 86400, local % 86400, off


def _few(keys: np.ndarray, make) -> np.ndarray:
    """Per-row fragments for a column with few distinct values (days, offsets)."""
    uniq, inv = np.unique(keys, return_inverse=True)
    return _obj([make(int(k)) for k in uniq.tolist()])[inv]


class FragTable:
    """Fragments by integer id, built on first use and kept (ids grow over a run)."""

    def __init__(self, make) -> None:
        self.make = make
        self.tab = np.empty(0, dtype=object)
        self.built = np.zeros(0, dtype=bool)

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.empty(0, dtype=object)
        top = int(ids.max()) + 1
        if top > len(self.tab):
            size = max(top, 2 * len(self.tab), 1024)
            tab = np.empty(size, dtype=object)
            tab[: len(self.tab)] = self.tab
            built = np.zeros(size, dtype=bool)
            built[: len(self.built)] = self.built
            self.tab, self.built = tab, built
        missing = ids[~self.built[ids]]
        if len(missing):
            for i in np.unique(missing).tolist():
                self.tab[i] = self.make(i)
            self.built[missing] = True
        return self.tab[ids]


def _interleave(cols: list) -> bytes:
    n = len(cols[0])
    k = len(cols)
    parts: list = [None] * (k * n)
    for j, col in enumerate(cols):
        parts[j::k] = col.tolist() if isinstance(col, np.ndarray) else col
    return b"".join(parts)


class LogFormatter:
    def __init__(self, world: World) -> None:
        self.w = world
        self.urls = world.city.urls
        clients, uas = world.clients, world.uas.strings
        self.ip = FragTable(lambda c: f"{clients.ips[c]} - - [".encode())
        self.ua = FragTable(lambda u: f'{uas[u]}"\n'.encode())
        self.ref = FragTable(lambda r: f'{self.urls.full(r)}" "'.encode() if r else b'-" "')

    def _size(self, url: int, status: int, method: int, k: int) -> str:
        if method == HEAD or status in (304, 302):
            return "-"
        if status == 301:
            return str(229 + len(self.urls.paths[url]) % 40)
        if status == 404:
            return str(NOT_FOUND_SIZE)
        if status == 403:
            return "199"
        if status == 503:
            return "299"
        size = self.urls.sizes[url] or 14_000
        if status == 206:
            return str(min(size, 65_536))
        if self.urls.kinds[url] in (PAGE, NEWS, SEARCH):
            size += (url * 2654435761 + k * 97) % 420  # dynamic pages vary a little per day
        return str(size)

    def format(self, cols: dict[str, np.ndarray], k: int) -> bytes:
        n = len(cols["t"])
        if n == 0:
            return b""
        urls, clients = self.urls, self.w.clients
        client = cols["client"]
        lday, lsec, off = _local(self.w.clock, cols["t"])

        def day(d: int) -> bytes:
            x = _EPOCH + timedelta(days=d)
            return f"{x.day:02d}/{_MONTHS[x.month - 1]}/{x.year}:".encode()

        proto = clients.proto[client].astype(np.int64)
        rkey = ((cols["url"] * 3 + cols["method"]) * 1000 + cols["status"]) * 2 + proto

        def req(key: int) -> bytes:
            pr = key % 2
            key //= 2
            status = key % 1000
            key //= 1000
            method = key % 3
            url = key // 3
            size = self._size(url, status, method, k)
            return (
                f'{METHODS[method]} {urls.paths[url]} {PROTOCOLS[pr]}" {status} {size} "'.encode()
            )

        return _interleave(
            [
                self.ip(client),
                _few(lday, day),
                _HMS[lsec],
                _few(off, lambda o: f' {_off(o, False)}] "'.encode()),
                _few(rkey, req),
                self.ref(cols["ref"]),
                self.ua(clients.ua[client]),
            ]
        )


class EventFormatter:
    def __init__(self, world: World) -> None:
        self.w = world
        urls = self.urls = world.city.urls
        clients, uas = world.clients, world.uas.strings
        kinds = urls.kinds
        self.ip = FragTable(lambda c: f'{clients.ips[c]}","ua":'.encode())
        self.ua = FragTable(lambda u: orjson.dumps(uas[u]) + b',"type":"')
        self.url = FragTable(lambda u: orjson.dumps(urls.full(u)))
        self.ref = FragTable(lambda r: b',"referrer":' + orjson.dumps(urls.full(r)))
        self.target = FragTable(lambda r: b',"target":' + orjson.dumps(urls.full(r)))

        def title(u: int) -> bytes:
            t = NOT_FOUND_TITLE if kinds[u] == REMOVED else urls.titles[u]
            return b',"title":' + orjson.dumps(t) if t else b""

        self.title = FragTable(title)
        qs = world.queries.items
        self.query = FragTable(lambda q: b',"query":' + orjson.dumps(qs[q]))
        self.results = FragTable(lambda r: f',"results":{r}'.encode())
        services = world.city.services
        self.form = FragTable(lambda s: f',"form":"{services[s].id}"'.encode())
        names = world.city.field_names
        self.field = FragTable(lambda f: f',"field":"{names[f]}"'.encode())
        self.types = _obj([f'{name}","url":'.encode() for name in EVENT_NAMES])

    def format(self, cols: dict[str, np.ndarray]) -> bytes:
        n = len(cols["t"])
        if n == 0:
            return b""
        clients = self.w.clients
        client = cols["client"]
        et = cols["type"]
        lday, lsec, off = _local(self.w.clock, cols["t"])
        empty = np.full(n, b"", dtype=object)

        def opt(mask: np.ndarray, table: FragTable, keys: np.ndarray) -> np.ndarray:
            col = empty.copy()
            if mask.any():
                col[mask] = table(keys[mask].astype(np.int64))
            return col

        page = np.isin(et, PAGE_EVENTS)
        ref = cols["ref"]
        is_search = et == EV_SEARCH
        is_form = np.isin(et, (EV_FORM_START, EV_FORM_SUBMIT, EV_FORM_ERROR)) & (cols["form"] >= 0)
        eng = et == EV_ENGAGEMENT
        eng_val = empty.copy()
        if eng.any():
            eng_val[eng] = _obj([b',"engagement_ms":%d' % v for v in cols["eng"][eng].tolist()])
        return _interleave(
            [
                _few(
                    lday, lambda d: f'{{"ts":"{(_EPOCH + timedelta(days=d)).isoformat()}T'.encode()
                ),
                _HMS[lsec],
                _MS[cols["t"] % 1000],
                _few(off, lambda o: f'{_off(o, True)}","ip":"'.encode()),
                self.ip(client),
                self.ua(clients.ua[client]),
                self.types[et],
                self.url(cols["url"]),
                opt(page & (ref > 0), self.ref, ref),
                opt(page, self.title, cols["url"]),
                opt(is_search, self.query, cols["query"]),
                opt(is_search, self.results, cols["results"]),
                opt(np.isin(et, (EV_DOWNLOAD, EV_OUTLINK)), self.target, cols["target"]),
                opt(is_form, self.form, cols["form"]),
                opt(is_form & (cols["field"] >= 0), self.field, cols["field"]),
                eng_val,
                np.full(n, b"}\n", dtype=object),
            ]
        )


class GzipWriter:
    """Deterministic gzip (mtime 0, no file name), compressed on a background thread."""

    def __init__(self, path: Path, level: int) -> None:
        self.path = path
        self._fh = path.open("wb")
        self._gz = gzip.GzipFile(
            filename="", mode="wb", compresslevel=level, fileobj=self._fh, mtime=0
        )
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=6)
        self._error: BaseException | None = None
        self.bytes_in = 0
        self.lines = 0
        self._thread = threading.Thread(target=self._run, name=f"gzip-{path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                data = self._q.get()
                if data is None:
                    break
                self._gz.write(data)
        except BaseException as exc:  # surfaced in close()
            self._error = exc

    def write(self, data: bytes, lines: int) -> None:
        if self._error is not None:
            raise self._error
        if data:
            self.bytes_in += len(data)
            self.lines += lines
            self._q.put(data)

    def close(self) -> None:
        self._q.put(None)
        self._thread.join()
        self._gz.close()
        self._fh.close()
        if self._error is not None:
            raise self._error
