"""Benchmark the Musterstadt simulator: wall time, CPU time and peak RSS.

    .venv/bin/python bench/simulate.py                 # 90 days × 8,000 visits/day
    .venv/bin/python bench/simulate.py --days 30 --visits-per-day 2000 --gzip-level 6

Prints one JSON document. Peak RSS is the process's maximum resident set size
(resource.getrusage), which includes the gzip threads.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from amtspuls.simulate import SimConfig, simulate  # noqa: E402
from amtspuls.simulate.config import TrafficConfig  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--visits-per-day", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", default="2026-01-01")
    ap.add_argument("--gzip-level", type=int, default=1)
    ap.add_argument("--out", default=None, help="output directory (default: a temporary one)")
    args = ap.parse_args()
    cfg = SimConfig(
        start=date.fromisoformat(args.start),
        days=args.days,
        seed=args.seed,
        gzip_level=args.gzip_level,
        traffic=TrafficConfig(visits_per_day=args.visits_per_day),
    )
    with tempfile.TemporaryDirectory(prefix="musterstadt-") as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        summary = simulate(out, cfg)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "days": args.days,
                "visits_per_day": args.visits_per_day,
                "gzip_level": args.gzip_level,
                "seconds": round(wall, 2),
                "cpu_seconds": round(cpu, 2),
                "cpu_seconds_main_thread": summary["cpu_seconds_main"],
                "peak_rss_mib": round(peak_kib / 1024, 1),
                "sessions": summary["sessions"],
                "log_lines": summary["log_lines"],
                "events": summary["events"],
                "requests": summary["requests"],
                "bytes": {k: v["bytes"] for k, v in summary["files"].items()},
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
