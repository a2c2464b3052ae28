"""Shared by the evaluation benches: run the CLI, and simulate + import a city per seed
(both cached in a work folder, so several benches can share one simulation)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SITE = "www.musterstadt.de"


def cli(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "amtspuls.cli", *args], capture_output=True,
                       text=True)
    if r.returncode != 0:
        sys.exit(f"amtspuls {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


def simulated_city(work: Path, seed: int, days: int, visits_per_day: int) -> tuple[Path, Path]:
    """(simulation folder, data directory with its tracker events imported)."""
    sim = work / f"sim-{seed}-{days}-{visits_per_day}"
    data = work / f"data-{seed}-{days}-{visits_per_day}"
    if not (sim / "truth.json").is_file():
        cli("simulate", "--out", str(sim), "--days", str(days), "--seed", str(seed),
            "--visits-per-day", str(visits_per_day), "--json")
    if not (data / "amtspuls.duckdb").is_file():
        cli("--data", str(data), "import-events", str(sim / "events.jsonl.gz"), "--site",
            SITE, "--json")
    return sim, data
