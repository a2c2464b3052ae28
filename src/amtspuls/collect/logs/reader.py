"""Read a log file (plain, gzip or bzip2) as numbered text lines, in batches.

Reading is separate from parsing: this module knows bytes, compression and line
numbers, nothing about formats. Invalid UTF-8 is replaced (U+FFFD) rather than
rejected, so that a Big5 or Latin-1 byte in one URL does not lose the line.

Blocks are cut into lines by Arrow, not by Python: a batch is one Arrow string column
(no Python object per line); formats that parse line by line get a list on demand.
"""

from __future__ import annotations

import bz2
import gzip
import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from amtspuls.errors import UserError

BLOCK_BYTES = 8 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_BZ2_MAGIC = b"BZh"


class LineBatch:
    """Numbered lines: `first_line_no` is the 1-based number of the first. Held as an
    Arrow string column (`array`, as read from a file) or a list (`lines`); each view
    is made from the other on first use. Lines in `too_long` (over the length limit,
    reported malformed) are kept as empty strings."""

    def __init__(self, first_line_no: int, lines: list[str] | None = None,
                 too_long: list[int] | None = None, *,
                 array: pa.Array | pa.ChunkedArray | None = None) -> None:
        if lines is None and array is None:
            raise ValueError("LineBatch needs lines or an array")
        self.first_line_no = first_line_no
        self.too_long = too_long if too_long is not None else []
        self._lines = lines
        self._array = array

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            assert self._array is not None
            self._lines = self._array.to_pylist()
        return self._lines

    @property
    def array(self) -> pa.Array | pa.ChunkedArray:
        if self._array is None:
            self._array = pa.array(self._lines, pa.string())
        return self._array

    def __len__(self) -> int:
        return len(self._array) if self._array is not None else len(self._lines or ())


def open_log(path: str | Path) -> BinaryIO:
    """Open a log file for reading bytes, decompressing by magic number, not by name."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file")
    if p.is_dir():
        raise UserError(f"{p}: is a directory, not a log file")
    try:
        raw = p.open("rb")
    except OSError as exc:
        raise UserError(f"{p}: cannot open ({exc.strerror})") from None
    head = raw.read(4)
    raw.seek(0)
    if head.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if head.startswith(_BZ2_MAGIC):
        return bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]
    return raw


def sample_lines(path: str | Path, limit: int = 200, max_bytes: int = 1 << 20) -> list[str]:
    """The first lines of a file (for format detection); raises UserError for binary data."""
    chunks: list[bytes] = []
    size = 0
    cut = False
    with open_log(path) as fh:
        read = getattr(fh, "read1", fh.read)
        # In blocks, so that a compressed file that ends early (the import then reports
        # where it broke) still yields the lines before the break as its sample.
        try:
            while size < max_bytes:
                chunk = read(min(1 << 16, max_bytes - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except (OSError, EOFError, zlib.error) as exc:
            if not chunks:
                raise UserError(f"{path}: cannot decompress ({exc})") from None
            cut = True
    head = b"".join(chunks)
    if b"\x00" in head[:65536]:
        raise UserError(f"{path}: binary data (NUL bytes), not a text log")
    text = head.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if (cut or len(head) == max_bytes) and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut
    return [ln.rstrip("\r") for ln in lines[:limit]]


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def _lines_of(body: bytes | memoryview, max_line_bytes: int) -> tuple[pa.Array, list[int]]:
    """The newline-separated lines of `body` (which does not end in one) as Arrow
    strings, and the 0-based positions of those over `max_line_bytes` (kept as "")."""
    whole = pa.Array.from_buffers(  # one value over the block's bytes, not a copy
        pa.large_binary(), 1,
        [None, pa.py_buffer(struct.pack("<qq", 0, len(body))), pa.py_buffer(body)])
    lines = pc.split_pattern(whole, b"\n").flatten()
    too_long: list[int] = []
    long_mask = pc.greater(pc.binary_length(lines), max_line_bytes)
    if pc.any(long_mask).as_py():
        too_long = pc.indices_nonzero(long_mask).to_pylist()
        lines = pc.if_else(long_mask, pa.scalar(b"", pa.large_binary()), lines)
    try:
        text = lines.cast(pa.large_string())  # validates UTF-8, shares the buffers
    except pa.ArrowInvalid:
        # Invalid UTF-8 somewhere in the block: this block line by line, replacing it.
        return pa.array([_decode(x) for x in lines.to_pylist()], pa.large_string()), too_long
    if pc.any(pc.ends_with(text, "\r")).as_py():
        text = pc.utf8_rtrim(text, characters="\r")
    return text, too_long


def iter_batches(
    fh: BinaryIO, batch_lines: int, max_line_bytes: int, skip_lines: int = 0,
    first_batch_lines: int | None = None,
) -> Iterator[LineBatch]:
    """Yield numbered lines in batches of about `batch_lines` (the first of about
    `first_batch_lines`, if given: a pipeline gets going sooner).

    A file not ending in a newline still yields its last line; `skip_lines` lines are
    read and discarded first (resuming an import)."""
    size = first_batch_lines or batch_lines
    buffer = io.BufferedReader(fh, buffer_size=BLOCK_BYTES) if not hasattr(fh, "peek") else fh
    line_no = 0  # lines read so far
    chunks: list[pa.Array] = []
    pending = 0
    too_long: list[int] = []
    first = 1
    carry = b""

    def take(body: bytes) -> None:
        nonlocal line_no, pending, first
        arr, long_at = _lines_of(body, max_line_bytes)
        n = len(arr)
        skip = min(max(skip_lines - line_no, 0), n)
        if skip:
            arr = arr.slice(skip)
            long_at = [i for i in long_at if i >= skip]
        if len(arr):
            if not pending:
                first = line_no + skip + 1
            chunks.append(arr)
            too_long.extend(line_no + 1 + i for i in long_at)
            pending += len(arr)
        line_no += n

    def batch() -> LineBatch:
        nonlocal chunks, too_long, pending
        out = LineBatch(first, too_long=too_long, array=pa.chunked_array(chunks, pa.large_string()))
        chunks, too_long, pending = [], [], 0
        return out

    # read1: what was decompressed before a compressed stream breaks off is returned
    # rather than lost with the exception of a read() that wanted more.
    read = getattr(buffer, "read1", buffer.read)
    while True:
        try:
            block = read(BLOCK_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            # Hand over what was read intact, then report where the stream broke.
            if pending:
                yield batch()
            raise TruncatedInput(line_no, str(exc) or type(exc).__name__) from None
        if not block:
            break
        block = carry + block
        cut = block.rfind(b"\n")
        if cut < 0:
            carry = block
        else:
            carry = block[cut + 1:]
            take(memoryview(block)[:cut])
        del block
        if len(carry) > max_line_bytes * 4:
            # One huge line without a newline: keep only enough to know it is too long.
            carry = carry[: max_line_bytes + 1]
        if pending >= size:
            yield batch()
            size = batch_lines
    if carry:
        take(carry)
    if pending:
        yield batch()


class TruncatedInput(Exception):
    """The compressed stream ended early or is corrupt after `line_no` good lines."""

    def __init__(self, line_no: int, reason: str) -> None:
        super().__init__(reason)
        self.line_no = line_no
        self.reason = reason
