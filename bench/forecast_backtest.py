"""Forecast backtest on simulated cities: for each seed, simulate (90 days, default size),
import, and run `amtspuls forecast --backtest`: per service the MASE of the model and of
the weekly seasonal-naive forecast, and the 80 %/95 % interval coverage, averaged over
services with at least 20 daily visits. Prints one JSON document.

    .venv/bin/python bench/forecast_backtest.py --seeds 12 13 14 --work /tmp/detect-eval

Uses the same work directory layout as bench/detect_eval.py (simulations are reused)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from simcity import SITE, cli, simulated_city


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[12, 13, 14])
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--visits-per-day", type=int, default=8000)
    ap.add_argument("--horizon", type=int, default=28)
    ap.add_argument("--work", default="/tmp/amtspuls-detect-eval")
    args = ap.parse_args()
    work = Path(args.work)
    runs = []
    for seed in args.seeds:
        sim, data = simulated_city(work, seed, args.days, args.visits_per_day)
        res = json.loads(cli("--data", str(data), "forecast", "--site", SITE, "--backtest",
                             "--horizon", str(args.horizon), "--bundesland", "NW", "--json"))
        res["seed"] = seed
        runs.append(res)
    big = [s for r in runs for s in r["services"] if s["mean_daily_visits"] >= 20]

    def mean(key: str) -> float:
        return round(statistics.fmean(s[key] for s in big), 4)

    out = {
        "seeds": args.seeds,
        "horizon_days": args.horizon,
        "services_evaluated": len(big),
        "mean_mase": mean("mase"),
        "median_mase": round(statistics.median(s["mase"] for s in big), 4),
        "mean_mase_seasonal_naive": mean("mase_seasonal_naive"),
        "mean_relative_mae": mean("relative_mae"),
        "coverage_80": mean("coverage_80"),
        "coverage_95": mean("coverage_95"),
        "per_seed": [{k: r[k] for k in ("seed", "services_evaluated", "mean_mase",
                                        "mean_mase_seasonal_naive", "coverage_80",
                                        "coverage_95", "origins")} for r in runs],
        "worst": sorted(({"seed": r["seed"], **s} for r in runs for s in r["services"]
                         if s["mean_daily_visits"] >= 20), key=lambda s: -s["mase"])[:5],
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
