"""Read a log file (plain, gzip or bzip2) as numbered text lines, in batches.

Reading is separate from parsing: this module knows bytes, compression and line
numbers, nothing about formats. Invalid UTF-8 is replaced (U+FFFD) rather than
rejected, so that a Big5 or Latin-1 byte in one URL does not lose the line.
"""

from __future__ import annotations

import bz2
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from amtspuls.errors import UserError

BLOCK_BYTES = 8 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_BZ2_MAGIC = b"BZh"


@dataclass
class LineBatch:
    first_line_no: int  # 1-based number of lines[0]
    lines: list[str]
    # Lines over the length limit: reported malformed, their text is not kept.
    too_long: list[int] = field(default_factory=list)


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


def iter_batches(
    fh: BinaryIO, batch_lines: int, max_line_bytes: int, skip_lines: int = 0
) -> Iterator[LineBatch]:
    """Yield numbered lines in batches of about `batch_lines`.

    A file not ending in a newline still yields its last line; `skip_lines` lines are
    read and discarded first (resuming an import)."""
    buffer = io.BufferedReader(fh, buffer_size=BLOCK_BYTES) if not hasattr(fh, "peek") else fh
    line_no = 0
    pending: list[str] = []
    too_long: list[int] = []
    first = 1
    carry = b""
    # read1: what was decompressed before a compressed stream breaks off is returned
    # rather than lost with the exception of a read() that wanted more.
    read = getattr(buffer, "read1", buffer.read)
    while True:
        try:
            block = read(BLOCK_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            # Hand over what was read intact, then report where the stream broke.
            if pending:
                yield LineBatch(first, pending, too_long)
            raise TruncatedInput(line_no, str(exc) or type(exc).__name__) from None
        if not block:
            break
        block = carry + block
        parts = block.split(b"\n")
        carry = parts.pop()
        if len(carry) > max_line_bytes * 4:
            # One huge line without a newline: keep only enough to know it is too long.
            carry = carry[: max_line_bytes + 1]
        for raw in parts:
            line_no += 1
            if line_no <= skip_lines:
                continue
            if not pending and not too_long:
                first = line_no
            if len(raw) > max_line_bytes:
                too_long.append(line_no)
                pending.append("")
            else:
                pending.append(raw.decode("utf-8", errors="replace").rstrip("\r"))
        if len(pending) >= batch_lines:
            yield LineBatch(first, pending, too_long)
            pending, too_long = [], []
    if carry:
        line_no += 1
        if line_no > skip_lines:
            if not pending and not too_long:
                first = line_no
            if len(carry) > max_line_bytes:
                too_long.append(line_no)
                pending.append("")
            else:
                pending.append(carry.decode("utf-8", errors="replace").rstrip("\r"))
    if pending:
        yield LineBatch(first, pending, too_long)


class TruncatedInput(Exception):
    """The compressed stream ended early or is corrupt after `line_no` good lines."""

    def __init__(self, line_no: int, reason: str) -> None:
        super().__init__(reason)
        self.line_no = line_no
        self.reason = reason
