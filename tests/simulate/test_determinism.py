"""Same seed, same bytes; another seed, another city day."""

from __future__ import annotations

import gzip
import json
from datetime import date

from amtspuls.simulate import FILES, SimConfig, simulate
from amtspuls.simulate.config import TrafficConfig


def _cfg(seed: int) -> SimConfig:
    return SimConfig(start=date(2026, 5, 1), days=4, seed=seed,
                     traffic=TrafficConfig(visits_per_day=400))  # fmt: skip


def test_same_seed_gives_identical_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    simulate(a, _cfg(3))
    simulate(b, _cfg(3))
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_gzip_has_no_timestamp_or_name(tmp_path):
    simulate(tmp_path, _cfg(3))
    for name in ("access.log.gz", "events.jsonl.gz"):
        head = (tmp_path / name).read_bytes()[:10]
        assert head[:2] == b"\x1f\x8b"
        assert head[3] & 0x08 == 0, "FNAME flag set"
        assert head[4:8] == b"\x00\x00\x00\x00", "mtime not zero"
        with gzip.open(tmp_path / name) as fh:
            assert fh.read(1)


def test_different_seed_changes_behaviour(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    simulate(a, _cfg(3))
    simulate(b, _cfg(4))
    for name in FILES:
        assert (a / name).read_bytes() != (b / name).read_bytes(), name
    ta = json.loads((a / "truth.json").read_text())
    tb = json.loads((b / "truth.json").read_text())
    assert ta["sessions_per_day"] != tb["sessions_per_day"]
    assert [i["start"] for i in ta["incidents"]] != [i["start"] for i in tb["incidents"]]
    qa, qb = set(ta["search_queries"]), set(tb["search_queries"])
    assert len(qa ^ qb) > 0.3 * len(qa | qb)


def test_identical_across_processes_and_hash_seeds(tmp_path):
    """No dependence on Python's string-hash randomisation (set/dict order)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import amtspuls

    src = str(Path(amtspuls.__file__).resolve().parent.parent)
    code = (
        "import sys; from datetime import date; from amtspuls.simulate import simulate, SimConfig;"
        "from amtspuls.simulate.config import TrafficConfig;"
        "simulate(sys.argv[1], SimConfig(start=date(2026, 5, 1), days=2, seed=3,"
        " traffic=TrafficConfig(visits_per_day=300)))"
    )
    for h in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": h, "PYTHONPATH": src}
        subprocess.run([sys.executable, "-c", code, str(tmp_path / h)], check=True, env=env,
                       timeout=300)  # fmt: skip
    for name in FILES:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name
