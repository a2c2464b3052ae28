"""Early-warning evaluation on simulated cities: for each seed, simulate Musterstadt
(90 days, default size unless told otherwise), import the tracker events, run
`evaluate detect` and pool the results. Prints one JSON document.

    .venv/bin/python bench/detect_eval.py --seeds 12 13 14 --work /tmp/detect-eval

Seeds 12–14 were not used while the detector was developed (1–3 and 11 were)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from simcity import SITE, cli, simulated_city


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[12, 13, 14])
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--visits-per-day", type=int, default=8000)
    ap.add_argument("--work", default="/tmp/amtspuls-detect-eval")
    args = ap.parse_args()
    work = Path(args.work)
    runs = []
    for seed in args.seeds:
        sim, data = simulated_city(work, seed, args.days, args.visits_per_day)
        began = time.perf_counter()
        res = json.loads(cli("--data", str(data), "evaluate", "detect", "--site", SITE,
                             "--truth", str(sim / "truth.json"), "--json"))
        res["seconds"] = round(time.perf_counter() - began, 1)
        res["seed"] = seed
        runs.append(res)
    incidents = [i for r in runs for i in r["incidents"]]
    delays = [i["delay_minutes"] for i in incidents if i["detected"]]

    def pooled(rows):
        d = [i["delay_minutes"] for i in rows if i["detected"]]
        return {"incidents": len(rows), "detected": sum(i["detected"] for i in rows),
                "recall": round(sum(i["detected"] for i in rows) / len(rows), 4) if rows
                else None,
                "median_delay_minutes": round(statistics.median(d), 1) if d else None}

    kinds = sorted({i["kind"] for i in incidents})
    alerts = sum(r["alerts"] for r in runs)
    false = sum(r["false_alarms"] for r in runs)
    days = sum(r["days"] for r in runs)
    out = {
        "seeds": args.seeds,
        "days": args.days,
        "visits_per_day": args.visits_per_day,
        "recall": pooled(incidents)["recall"],
        "precision": round((alerts - false) / alerts, 4) if alerts else None,
        "false_alarms_per_30_days": round(false / days * 30, 3),
        "median_delay_minutes": round(statistics.median(delays), 1) if delays else None,
        "by_direction": {
            "spike": pooled([i for i in incidents if i["kind"] != "form_outage"]),
            "drop": pooled([i for i in incidents if i["kind"] == "form_outage"]),
        },
        "by_kind": {k: pooled([i for i in incidents if i["kind"] == k]) for k in kinds},
        "per_seed": [{k: r[k] for k in ("seed", "precision", "recall",
                                        "false_alarms_per_30_days", "median_delay_minutes",
                                        "alerts", "false_alarms", "seconds")} for r in runs],
        "incidents": [{"seed": r["seed"], **i} for r in runs for i in r["incidents"]],
        "false_alarm_list": [{"seed": r["seed"], **a} for r in runs
                             for a in r["false_alarm_list"]],
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
