"""The write-ahead log on its own: group commit, file modes, segments, torn lines."""

from __future__ import annotations

import asyncio
import stat

import pytest

from amtspuls.collect.wal import WalError, WriteAheadLog, read_segment


def run(coro):
    return asyncio.run(coro)


def test_concurrent_appends_share_fsyncs_and_keep_order(tmp_path):
    commits: list[tuple[str, int, int]] = []
    closed: list[tuple[str, int]] = []

    async def main() -> WriteAheadLog:
        wal = WriteAheadLog(
            tmp_path / "wal", on_close=lambda seg, n: closed.append((seg, n)),
            on_commit=lambda seg, first, recs: commits.append((seg, first, len(recs))))
        await wal.start()
        await asyncio.gather(*(wal.append([{"n": i, "ip": "192.0.2.1"}, {"n": i, "k": 2}])
                               for i in range(300)))
        await wal.close()
        return wal

    wal = run(main())
    assert wal.appends == 300
    assert wal.syncs < 300  # appends waiting together were synced together
    (segment,) = [p for p in (tmp_path / "wal").iterdir()]
    assert stat.S_IMODE(segment.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "wal").stat().st_mode) == 0o700
    lines = list(read_segment(segment))
    assert len(lines) == 600 and [n for n, _ in lines] == list(range(1, 601))
    # every commit hook names the line numbers its records got
    for seg, first, count in commits:
        assert seg == segment.name
        for k in range(count):
            assert lines[first - 1 + k][1]["n"] == lines[first - 1][1]["n"]
    assert closed == [(segment.name, 600)]


def test_segments_rotate_by_age_and_new_runs_never_append(tmp_path):
    async def main(age: float) -> list[tuple[str, int]]:
        closed: list[tuple[str, int]] = []
        wal = WriteAheadLog(tmp_path / "wal", on_close=lambda s, n: closed.append((s, n)),
                            segment_seconds=age)
        await wal.start()
        await wal.append([{"a": 1}])
        await asyncio.sleep(0.05)
        await wal.rotate_if_older(0.01)
        await wal.append([{"a": 2}])
        await wal.close()
        return closed

    first = run(main(60))
    assert [n for _, n in first] == [1, 1]
    wal = WriteAheadLog(tmp_path / "wal")
    assert [p.name for p in wal.leftover()] == sorted(s for s, _ in first)
    run(main(60))
    assert len(list((tmp_path / "wal").iterdir())) == 4


def test_torn_and_bad_lines(tmp_path):
    path = tmp_path / "00000000000000000001.wal"
    path.write_bytes(b'{"a": 1}\nnot json\n[1, 2]\n{"b": 2}\n{"c": 3')
    assert list(read_segment(path)) == [(1, {"a": 1}), (2, None), (3, None), (4, {"b": 2})]


def test_append_after_close_is_refused(tmp_path):
    async def main() -> None:
        wal = WriteAheadLog(tmp_path / "wal")
        await wal.start()
        await wal.close()
        await wal.append([{"a": 1}])

    with pytest.raises(WalError):
        run(main())
