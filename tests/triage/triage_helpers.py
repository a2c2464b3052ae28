"""Helpers for the triage tests: simulated requests with their truth (Musterstadt), the
real-world files in ../shared, the CLI as a subprocess."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REALWORLD = REPO.parent / "shared" / "data" / "realworld"
JENA = REALWORLD / "jena-maengelmelder-open311" / "maengel_jena_first11.json"
KONSTANZ = REALWORLD / "konstanz-maengelmelder" / "maengelmelder_konstanz_2020-2022.csv"
SITE = "www.musterstadt.de"


@lru_cache(maxsize=8)
def simulated(seed: int, days: int = 90) -> tuple[tuple[dict, dict], ...]:
    """(request object, truth) pairs of a simulated run (only the request generator)."""
    from amtspuls.simulate import SimConfig
    from amtspuls.simulate.requests import Reporter
    from amtspuls.simulate.world import build_world

    return tuple(Reporter(build_world(SimConfig(days=days, seed=seed))).run())


def write_jsonl(path: Path, seed: int, days: int = 90) -> list[dict]:
    pairs = simulated(seed, days)
    with path.open("w", encoding="utf-8") as fh:
        for obj, _ in pairs:
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return [t for _, t in pairs]


class Served:
    def __init__(self, base: str, api_key: str, clerk_key: str, data: Path) -> None:
        self.base = base
        self.api_key = api_key
        self.clerk_key = clerk_key
        self.data = data




def cli(data: Path, *args: str, timeout: float = 300):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AMTSPULS_")}
    proc = subprocess.run([sys.executable, "-m", "amtspuls.cli", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)
    return proc


def one_json(text: str):
    decoder = json.JSONDecoder()
    stripped = text.strip()
    obj, end = decoder.raw_decode(stripped)
    assert stripped[end:].strip() == "", f"more than one JSON document: {text[:200]!r}"
    return obj
