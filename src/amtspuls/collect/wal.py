"""Write-ahead log of the live tracking endpoints: an event is answered only once it is
on disk, so that an acknowledged event survives a crash of the server.

Records (validated hit rows, one JSON object per line) are appended to segment files in
`DATA/wal/` (files 0600, folder 0700). Appends of concurrent requests are written and
`fdatasync`ed together (group commit): while one sync runs, the next requests gather and
share the next one. A request's future resolves only after the sync of its lines.

A segment is closed when it is `segment_seconds` old or `segment_bytes` large (and the
live ingester closes an idle one); the ingester deletes a closed segment as soon as all
its lines are in the store. Segments hold raw IP addresses and user agents, so they are
meant to live for seconds. After a crash, the segments left over are replayed (see
`serve/live.py`): a new process never appends to an old segment, and a line cut short by
the crash (never acknowledged) is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("amtspuls.wal")

SUFFIX = ".wal"


class WalError(Exception):
    """The log could not be written; the events of the request are not acknowledged."""


@dataclass
class _Append:
    records: list[dict[str, Any]]
    data: bytes
    future: asyncio.Future = field(repr=False)


# (segment name, number of the first line, the records) — called in the event loop
CommitHook = Callable[[str, int, list[dict[str, Any]]], None]
# (segment name, number of lines) of a segment that will not grow any more
CloseHook = Callable[[str, int], None]


class WriteAheadLog:
    def __init__(self, directory: Path, on_commit: CommitHook | None = None,
                 on_close: CloseHook | None = None, segment_bytes: int = 16 << 20,
                 segment_seconds: float = 10.0) -> None:
        self.directory = directory
        self.on_commit = on_commit
        self.on_close = on_close
        self.segment_bytes = segment_bytes
        self.segment_seconds = segment_seconds
        self.syncs = 0  # fsyncs done (group commit: fewer than appends)
        self.appends = 0
        self._queue: list[_Append] = []
        self._closing = False
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._io = ThreadPoolExecutor(1, thread_name_prefix="amtspuls-wal",
                                      initializer=name_os_thread, initargs=("amtspuls-wal",))
        # Owned by the I/O thread:
        self._fd: int | None = None
        self._name = ""
        self._lines = 0
        self._size = 0
        self._opened = 0.0
        self._last_ns = 0
        self._closed: list[tuple[str, int]] = []

    # -- lifecycle ---------------------------------------------------------------------
    def leftover(self) -> list[Path]:
        """Segments of an earlier run (call before `start`), oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(SUFFIX))

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._flush_loop(), name="amtspuls-wal")

    async def close(self) -> None:
        """Write what is queued, close the open segment."""
        if self._task is not None and self._wake is not None:
            self._closing = True
            self._wake.set()
            await self._task
            self._task = None
        await self._run(self._close_segment)
        self._io.shutdown(wait=True)

    # -- appending ---------------------------------------------------------------------
    async def append(self, records: list[dict[str, Any]]) -> None:
        """Append records; returns once they are synced to disk (raises WalError if not)."""
        if self._task is None or self._wake is None or self._closing:
            raise WalError("the write-ahead log is not open")
        data = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records)
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Append(records, data, future))
        self._wake.set()
        await future

    async def rotate_if_older(self, seconds: float) -> None:
        """Close the open segment if it is older than `seconds` (so it can be deleted)."""
        await self._run(self._rotate_if_older, seconds)

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        result = await asyncio.get_running_loop().run_in_executor(self._io, fn, *args)
        self._report_closed()
        return result

    async def _flush_loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0)  # let requests that are ready join this group
            if not self._queue:
                if self._closing:
                    return
                continue
            batch, self._queue = self._queue, []
            try:
                placed = await loop.run_in_executor(
                    self._io, self._write, [a.data for a in batch], [len(a.records) for a in batch]
                )
            except Exception as exc:  # disk full, I/O error: nothing is acknowledged
                log.error("write-ahead log: %s", exc)
                self._report_closed()
                for a in batch:
                    if not a.future.done():
                        a.future.set_exception(WalError(str(exc)))
                continue
            self._report_closed()
            self.syncs += 1
            self.appends += len(batch)
            for a, (segment, first) in zip(batch, placed, strict=True):
                if self.on_commit is not None:
                    self.on_commit(segment, first, a.records)
                if not a.future.done():
                    a.future.set_result(None)
            if self._queue or self._closing:
                self._wake.set()

    def _report_closed(self) -> None:
        closed, self._closed = self._closed, []
        for name, lines in closed:
            if self.on_close is not None:
                self.on_close(name, lines)

    # -- the I/O thread ----------------------------------------------------------------
    def _write(self, chunks: list[bytes], counts: list[int]) -> list[tuple[str, int]]:
        if self._fd is not None and (self._size >= self.segment_bytes
                                     or time.monotonic() - self._opened >= self.segment_seconds):
            self._close_segment()
        if self._fd is None:
            self._open_segment()
        assert self._fd is not None
        view = memoryview(b"".join(chunks))
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fdatasync(self._fd)
        except OSError:
            # What reached the file is unknown: never append to this segment again.
            self._close_segment()
            raise
        placed = []
        line = self._lines + 1
        for n in counts:
            placed.append((self._name, line))
            line += n
        self._lines = line - 1
        self._size += sum(len(c) for c in chunks)
        return placed

    def _open_segment(self) -> None:
        self._last_ns = max(time.time_ns(), self._last_ns + 1)
        name = f"{self._last_ns:020d}{SUFFIX}"
        path = self.directory / name
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
                           | os.O_CLOEXEC, 0o600)
        _sync_dir(self.directory)
        self._name, self._lines, self._size, self._opened = name, 0, 0, time.monotonic()

    def _close_segment(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None
        self._closed.append((self._name, self._lines))

    def _rotate_if_older(self, seconds: float) -> None:
        if self._fd is not None and time.monotonic() - self._opened >= seconds:
            self._close_segment()


def name_os_thread(name: str) -> None:
    """Give the current thread its name in the OS too (shown by `top -H`; Linux only)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_segment(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, record) for each line; None for a line that is not a record. A last
    line without its newline was cut short by a crash (never acknowledged) and is left out."""
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                break
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                record = None
            yield line_no, record if isinstance(record, dict) else None


def delete_segment(directory: Path, name: str) -> None:
    try:
        (directory / name).unlink()
    except FileNotFoundError:
        return
    _sync_dir(directory)
