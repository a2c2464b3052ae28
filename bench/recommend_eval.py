"""Recommendation evaluation on simulated cities: for each seed, simulate Musterstadt
(90 days, default size unless told otherwise), import the tracker events and the service
requests, triage them, run `evaluate recommend` (which runs the rules over the last 28
days) and pool the results. Prints one JSON document.

    .venv/bin/python bench/recommend_eval.py --seeds 101 102 103 --work /tmp/rec-eval

The rules were developed on seed 23 (30 days); other seeds are unseen."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from simcity import SITE, cli, simulated_city


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103])
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--visits-per-day", type=int, default=8000)
    ap.add_argument("--work", default="/tmp/amtspuls-recommend-eval")
    args = ap.parse_args()
    work = Path(args.work)
    runs = []
    for seed in args.seeds:
        sim, data = simulated_city(work, seed, args.days, args.visits_per_day)
        marker = data / "requests-imported"
        if not marker.exists():
            cli("--data", str(data), "requests", "import", str(sim / "requests.jsonl"),
                "--site", SITE)
            marker.touch()
        began = time.perf_counter()
        res = json.loads(cli("--data", str(data), "evaluate", "recommend", "--site", SITE,
                             "--truth", str(sim / "truth.json"), "--json"))
        res["seconds"] = round(time.perf_counter() - began, 1)
        res["seed"] = seed
        runs.append(res)
    expected = sum(r["expected"] for r in runs)
    missed = sum(len(r["missed"]) for r in runs)
    top = sum(r["top"] if r["precision"] is not None else 0 for r in runs)
    strict = [r["precision_all_kinds"] for r in runs if r["precision_all_kinds"] is not None]
    unfounded = sum(len(r["unfounded"]) for r in runs)
    by_type: dict[str, list[int]] = {}
    for r in runs:
        for t, v in r["by_type"].items():
            acc = by_type.setdefault(t, [0, 0])
            acc[0] += v["matched"]
            acc[1] += v["expected"]
    print(json.dumps({
        "seeds": args.seeds,
        "recall": round((expected - missed) / expected, 4) if expected else None,
        "precision": round((top - unfounded) / top, 4) if top else None,
        "precision_all_kinds": round(sum(strict) / len(strict), 4) if strict else None,
        "by_type": {t: {"matched": v[0], "expected": v[1]} for t, v in sorted(by_type.items())},
        "runs": [{k: r[k] for k in ("seed", "recall", "precision", "precision_all_kinds",
                                    "expected", "window", "recommendations", "not_judged",
                                    "without_evidence", "seconds", "missed", "unfounded")}
                 for r in runs],
    }, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
