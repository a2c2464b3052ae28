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
_HMS = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


def _off(minutes: int, colon: bool) -> str:
    sign = "+" if minutes >= 0 else "-"
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h:02d}:{m:02d}" if colon else f"{sign}{h:02d}{m:02d}"


def _local(clock: Clock, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local day number (since 1970), second of day, and UTC offset in minutes."""
    off = clock.offset_min(t)
    local = t // 1000 + off * 60
    return local // 86400, local % 86400, off


def _unique_fragments(keys: np.ndarray, make) -> list:
    """Fragments for each row, built once per distinct key."""
    uniq, inv = np.unique(keys, return_inverse=True)
    table = np.array([make(int(k)) for k in uniq.tolist()] + [b""], dtype=object)[:-1]
    return table[inv].tolist()


class LogFormatter:
    def __init__(self, world: World) -> None:
        self.w = world
        self.urls = world.city.urls
        self._ref: dict[int, bytes] = {0: b'-" "'}
        self._ua: dict[int, bytes] = {}

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
        w, urls = self.w, self.urls
        clients = w.clients
        client = cols["client"]
        # IP and user agent per client.
        ipf = _unique_fragments(client, lambda c: f"{clients.ips[c]} - - [".encode())
        ua_ids = clients.ua[client]
        uas = w.uas.strings
        uaf = [self._ua_frag(u, uas) for u in ua_ids.tolist()]
        # Timestamps.
        lday, lsec, off = _local(w.clock, cols["t"])
        tkey = (lday * 86400 + lsec) * 2048 + (off + 1024)

        def ts(key: int) -> bytes:
            o = key % 2048 - 1024
            sec = key // 2048
            d = _EPOCH + timedelta(days=sec // 86400)
            return (f"{d.day:02d}/{_MONTHS[d.month - 1]}/{d.year}:{_HMS[sec % 86400]} "
                    f'{_off(o, False)}] "').encode()

        tsf = _unique_fragments(tkey, ts)
        # Request, status and size.
        proto = clients.proto[client].astype(np.int64)
        rkey = ((cols["url"] * 3 + cols["method"]) * 1000 + cols["status"]) * 2 + proto

        def req(key: int) -> bytes:
            pr = key % 2
            key //= 2
            status = key % 1000
            key //= 1000
            method = key % 3
            url = key // 3
            path = urls.paths[url]
            size = self._size(url, status, method, k)
            return f'{METHODS[method]} {path} {PROTOCOLS[pr]}" {status} {size} "'.encode()

        reqf = _unique_fragments(rkey, req)
        reff = [self._ref_frag(r) for r in cols["ref"].tolist()]
        parts: list = [None] * (5 * n)
        parts[0::5] = ipf
        parts[1::5] = tsf
        parts[2::5] = reqf
        parts[3::5] = reff
        parts[4::5] = uaf
        return b"".join(parts)

    def _ua_frag(self, u: int, uas: list[str]) -> bytes:
        f = self._ua.get(u)
        if f is None:
            f = self._ua[u] = f'{uas[u]}"\n'.encode()
        return f

    def _ref_frag(self, r: int) -> bytes:
        f = self._ref.get(r)
        if f is None:
            f = self._ref[r] = f'{self.urls.full(r)}" "'.encode()
        return f


class EventFormatter:
    def __init__(self, world: World) -> None:
        self.w = world
        self.urls = world.city.urls
        self._url: dict[int, bytes] = {}
        self._ua: dict[int, bytes] = {}
        self.types = [f'{name}","url":'.encode() for name in EVENT_NAMES]
        self.forms = [f',"form":"{s.id}"'.encode() for s in world.city.services]
        self._fields: dict[int, bytes] = {}
        self._ms = [f".{ms:03d}".encode() for ms in range(1000)]

    def _json_url(self, u: int) -> bytes:
        f = self._url.get(u)
        if f is None:
            f = self._url[u] = orjson.dumps(self.urls.full(u))
        return f

    def format(self, cols: dict[str, np.ndarray]) -> bytes:
        n = len(cols["t"])
        if n == 0:
            return b""
        w, urls = self.w, self.urls
        clients = w.clients
        client = cols["client"]
        et = cols["type"]
        lday, lsec, off = _local(w.clock, cols["t"])
        tkey = (lday * 86400 + lsec) * 2048 + (off + 1024)

        def ts(key: int) -> bytes:
            sec = key // 2048
            d = _EPOCH + timedelta(days=sec // 86400)
            return f'{{"ts":"{d.isoformat()}T{_HMS[sec % 86400]}'.encode()

        tsf = _unique_fragments(tkey, ts)
        offs = {o: f'{_off(o, True)}","ip":"'.encode() for o in np.unique(off).tolist()}
        ms = (cols["t"] % 1000).tolist()
        msf = [self._ms[m] + offs[o] for m, o in zip(ms, off.tolist(), strict=True)]
        ipf = _unique_fragments(client, lambda c: f'{clients.ips[c]}","ua":'.encode())
        uas = w.uas.strings
        uaf = [self._ua_frag(u, uas) for u in clients.ua[client].tolist()]
        typef = [self.types[t] for t in et.tolist()]
        urlf = [self._json_url(u) for u in cols["url"].tolist()]
        page = np.isin(et, PAGE_EVENTS)
        empty = np.full(n, b"", dtype=object)

        def optional(mask: np.ndarray, keys: np.ndarray, make) -> list:
            col = empty.copy()
            if mask.any():
                col[mask] = np.array(_unique_fragments(keys[mask], make) + [b""], dtype=object)[:-1]
            return col.tolist()

        ref = cols["ref"]
        reff = optional(page & (ref > 0), ref, lambda r: b',"referrer":' + self._json_url(r))
        kinds = urls.kinds

        def title(u: int) -> bytes:
            t = NOT_FOUND_TITLE if kinds[u] == REMOVED else urls.titles[u]
            return b',"title":' + orjson.dumps(t) if t else b""

        titlef = optional(page, cols["url"], title)
        qs = w.queries.items
        is_search = et == EV_SEARCH
        qf = optional(is_search, cols["query"], lambda q: b',"query":' + orjson.dumps(qs[q]))
        rf = optional(is_search, cols["results"].astype(np.int64),
                      lambda r: f',"results":{r}'.encode())
        tgt = np.isin(et, (EV_DOWNLOAD, EV_OUTLINK))
        tf = optional(tgt, cols["target"], lambda u: b',"target":' + self._json_url(u))
        is_form = np.isin(et, (EV_FORM_START, EV_FORM_SUBMIT, EV_FORM_ERROR)) & (cols["form"] >= 0)
        ff = optional(is_form, cols["form"].astype(np.int64), lambda s: self.forms[s])
        has_field = is_form & (cols["field"] >= 0)
        names = w.city.field_names
        fdf = optional(has_field, cols["field"].astype(np.int64),
                       lambda f: f',"field":"{names[f]}"'.encode())
        eng = et == EV_ENGAGEMENT
        endf = [b"}\n"] * n
        if eng.any():
            idx = np.flatnonzero(eng).tolist()
            vals = cols["eng"][eng].tolist()
            for i, v in zip(idx, vals, strict=True):
                endf[i] = f',"engagement_ms":{v}}}\n'.encode()
        cols_out = (tsf, msf, ipf, uaf, typef, urlf, reff, titlef, qf, rf, tf, ff, fdf, endf)
        k = len(cols_out)
        parts: list = [None] * (k * n)
        for j, col in enumerate(cols_out):
            parts[j::k] = col
        return b"".join(parts)

    def _ua_frag(self, u: int, uas: list[str]) -> bytes:
        f = self._ua.get(u)
        if f is None:
            f = self._ua[u] = orjson.dumps(uas[u]) + b',"type":"'
        return f


class GzipWriter:
    """Deterministic gzip (mtime 0, no file name), compressed on a background thread."""

    def __init__(self, path: Path, level: int) -> None:
        self.path = path
        self._fh = path.open("wb")
        self._gz = gzip.GzipFile(filename="", mode="wb", compresslevel=level, fileobj=self._fh,
                                 mtime=0)
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

