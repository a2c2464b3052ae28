"""The reader cuts blocks into lines with Arrow: the same numbered lines as a plain Python
reading (invalid UTF-8 replaced, trailing CR removed, over-long lines reported), whatever
the block and batch sizes."""

from __future__ import annotations

import io
import random

import pytest

from amtspuls.collect.logs import reader
from amtspuls.collect.logs.reader import iter_batches

MAX = 64


def reference(data: bytes, skip: int) -> tuple[list[tuple[int, str]], list[int]]:
    """Numbered lines and the numbers of over-long ones, read the obvious way."""
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    lines, too_long = [], []
    for no, raw in enumerate(parts, 1):
        if no <= skip:
            continue
        if len(raw) > MAX:
            too_long.append(no)
            lines.append((no, ""))
        else:
            lines.append((no, raw.decode("utf-8", errors="replace").rstrip("\r")))
    return lines, too_long


def read_all(data: bytes, batch: int, skip: int, first: int | None):
    lines, too_long, sizes = [], [], []
    for b in iter_batches(io.BytesIO(data), batch, MAX, skip_lines=skip, first_batch_lines=first):
        assert b.too_long == sorted(b.too_long)
        lines += list(enumerate(b.lines, b.first_line_no))
        too_long += b.too_long
        sizes.append(len(b))
        assert len(b.array) == len(b.lines)
    return lines, too_long, sizes


def sample(seed: int) -> bytes:
    rng = random.Random(seed)
    pieces = [b"", b"   ", b"\r", b"GET /a HTTP/1.1", b"caf\xc3\xa9", b"bad \xff\xfe byte",
              b"x" * (MAX + 5), b"y" * MAX, b"tab\there\r", "ümlaut".encode()]
    data = b"\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 400)))
    return data + rng.choice([b"", b"\n", b"\r\n", b"tail"])


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_lines_as_read_by_python(seed, block, monkeypatch):
    monkeypatch.setattr(reader, "BLOCK_BYTES", block)
    data = sample(seed)
    skip = seed * 3
    want_lines, want_long = reference(data, skip)
    lines, too_long, sizes = read_all(data, batch=50, skip=skip, first=10 if seed % 2 else None)
    assert lines == want_lines
    assert too_long == want_long
    assert sum(sizes) == len(want_lines)


def test_first_batch_is_smaller(monkeypatch):
    monkeypatch.setattr(reader, "BLOCK_BYTES", 64)
    data = b"".join(b"line %d\n" % i for i in range(1000))
    _, _, sizes = read_all(data, batch=200, skip=0, first=20)
    assert sizes[0] < 40
    assert all(s >= 200 for s in sizes[1:-1])
    assert sum(sizes) == 1000
