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
    POST,
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

    def forget_below(self, lo: int) -> None:
        """Drop fragments of ids below lo (clients of past days are never seen again)."""
        lo = min(lo, len(self.tab))
        self.tab[:lo] = None
        self.built[:lo] = False

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
    def forget_clients_below(self, lo: int) -> None:
        self.ip.forget_below(lo)

    def __init__(self, world: World) -> None:
        self.w = world
        self.urls = world.city.urls
        clients, uas = world.clients, world.uas.strings
        self.ip = FragTable(lambda c: f"{clients.ips[c]} - - [".encode())
        self.ua = FragTable(lambda u: f'{uas[u]}"\n'.encode())
        self.ref = FragTable(lambda r: f'{self.urls.full(r)}" "'.encode() if r else b'-" "')
        self._stamps: dict[int, np.ndarray] = {}

    def _size(self, url: int, status: int, method: int, k: int) -> str:
        if method == HEAD or status == 304 or (status == 302 and method == POST):
            return "-"
        if status in (301, 302):
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

        # One timestamp fragment per row from a per-(day, offset) table of all seconds.
        stamp = np.empty(n, dtype=object)
        pair = lday * 4096 + (off + 2048)
        for key in np.unique(pair).tolist():
            m = pair == key
            table = self._stamps.get(key)
            if table is None:
                if len(self._stamps) > 8:
                    self._stamps.clear()
                d, o = divmod(key, 4096)
                pre, suf = day(d), f' {_off(o - 2048, False)}] "'.encode()
                table = self._stamps[key] = _obj([pre + h + suf for h in _HMS.tolist()])
            stamp[m] = table[lsec[m]]
        return _interleave(
            [
                self.ip(client),
                stamp,
                _few(rkey, req),
                self.ref(cols["ref"]),
                self.ua(clients.ua[client]),
            ]
        )


class EventFormatter:
    """Seven fragments per line: date, time, milliseconds + offset, client (ip and ua),
    type, url, and a tail with the keys that apply to the event's type."""

    def __init__(self, world: World) -> None:
        self.w = world
        urls = self.urls = world.city.urls
        clients, uas = world.clients, world.uas.strings
        self.kinds = urls.kinds
        self.client = FragTable(
            lambda c: (
                f'{clients.ips[c]}","ua":'.encode()
                + orjson.dumps(uas[int(clients.ua[c])])
                + b',"type":"'
            )
        )
        self.url = FragTable(lambda u: orjson.dumps(urls.full(u)))
        self._json_full: dict[int, bytes] = {}
        self._title: dict[int, bytes] = {}
        self.target = FragTable(lambda r: b',"target":' + orjson.dumps(urls.full(r)) + b"}\n")
        services = world.city.services
        names = world.city.field_names
        nf = len(names) + 1
        self._nf = nf
        self.form = FragTable(
            lambda k: (
                f',"form":"{services[k // nf].id}"'.encode()
                + (f',"field":"{names[k % nf - 1]}"'.encode() if k % nf else b"")
                + b"}\n"
            )
        )
        self.types = _obj([f'{name}","url":'.encode() for name in EVENT_NAMES])
        self._msoff: dict[int, np.ndarray] = {}

    def forget_clients_below(self, lo: int) -> None:
        self.client.forget_below(lo)

    def _full(self, u: int) -> bytes:
        f = self._json_full.get(u)
        if f is None:
            f = self._json_full[u] = orjson.dumps(self.urls.full(u))
        return f

    def _title_of(self, u: int) -> bytes:
        f = self._title.get(u)
        if f is None:
            t = NOT_FOUND_TITLE if self.kinds[u] == REMOVED else self.urls.titles[u]
            f = self._title[u] = b',"title":' + orjson.dumps(t) if t else b""
        return f

    def _ms_off(self, off: int) -> np.ndarray:
        table = self._msoff.get(off)
        if table is None:
            tail = f'{_off(off, True)}","ip":"'.encode()
            table = self._msoff[off] = _obj([m + tail for m in _MS.tolist()])
        return table

    def format(self, cols: dict[str, np.ndarray]) -> bytes:
        n = len(cols["t"])
        if n == 0:
            return b""
        et = cols["type"]
        url = cols["url"]
        lday, lsec, off = _local(self.w.clock, cols["t"])
        ms = cols["t"] % 1000
        msoff = np.empty(n, dtype=object)
        for o in np.unique(off).tolist():
            m = off == o
            msoff[m] = self._ms_off(o)[ms[m]]
        tail = np.full(n, b"}\n", dtype=object)
        eng = et == EV_ENGAGEMENT
        if eng.any():
            tail[eng] = _obj([b',"engagement_ms":%d}\n' % v for v in cols["eng"][eng].tolist()])
        page = np.isin(et, PAGE_EVENTS)
        if page.any():
            tail[page] = self._page_tails(url[page], cols["ref"][page], et[page],
                                          cols["query"][page], cols["results"][page])  # fmt: skip
        tgt = np.isin(et, (EV_DOWNLOAD, EV_OUTLINK))
        if tgt.any():
            tail[tgt] = self.target(cols["target"][tgt])
        form = np.isin(et, (EV_FORM_START, EV_FORM_SUBMIT, EV_FORM_ERROR)) & (cols["form"] >= 0)
        if form.any():
            assert len(self.w.city.field_names) + 1 == self._nf, "field names changed"
            key = cols["form"][form].astype(np.int64) * self._nf + (cols["field"][form] + 1)
            tail[form] = self.form(key)
        return _interleave(
            [
                _few(
                    lday, lambda d: f'{{"ts":"{(_EPOCH + timedelta(days=d)).isoformat()}T'.encode()
                ),
                _HMS[lsec],
                msoff,
                self.client(cols["client"]),
                self.types[et],
                self.url(url),
                tail,
            ]
        )

    def _page_tails(self, url: np.ndarray, ref: np.ndarray, et: np.ndarray, query: np.ndarray,
                    results: np.ndarray) -> np.ndarray:  # fmt: skip
        """referrer, title (and query, results for searches) per distinct (url, ref)."""
        qs = self.w.queries.items
        big = len(self.urls) + 1
        keys = url * big + ref
        uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        out = []
        for k, i in zip(uniq.tolist(), first.tolist(), strict=True):
            u, r = divmod(k, big)
            frag = (b',"referrer":' + self._full(r) if r else b"") + self._title_of(u)
            if et[i] == EV_SEARCH:
                frag += b',"query":' + orjson.dumps(qs[int(query[i])])
                frag += b',"results":%d' % int(results[i])
            out.append(frag + b"}\n")
        return _obj(out)[inv]


class GzipWriter:
    """Deterministic gzip (mtime 0, no file name), compressed on a background thread."""

    def __init__(self, path: Path, level: int) -> None:
        self.path = path
        self._fh = path.open("wb")
        self._gz = gzip.GzipFile(
            filename="", mode="wb", compresslevel=level, fileobj=self._fh, mtime=0
        )
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=3)
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
