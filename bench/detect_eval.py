"""Early-warning evaluation on simulated cities: for each seed, simulate Musterstadt
(90 days, default size unless told otherwise), import the tracker events, run
`evaluate detect` and pool the results. Prints one JSON document.

    .venv/bin/python bench/detect_eval.py --seeds 211 223 227 --work /tmp/detect-eval

Seeds 211, 223 and 227 were not looked at while the detector was developed (1–3, 11–14
and 101–103 were).

`--requests` also imports the simulated Open311 requests, so that the request signals
(per category) take part; the cached data directories then differ, hence the check.

`--lower-bound` prints instead what no detector can beat on these incidents: an oracle
that knows an incident's start and the signals it affects tests the count since the
start against its baseline (Poisson, one test, level alpha). The incidents follow the
simulator's generator (shapes, magnitudes, durations, start hours); the baselines are
measured on the first seed's data. Reported: the median minutes until half of such
incidents are significant, and the share significant within 60 minutes."""

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
    ap.add_argument("--lower-bound", action="store_true")
    ap.add_argument("--requests", action="store_true",
                    help="also import the simulated Open311 requests (request signals)")
    args = ap.parse_args()
    work = Path(args.work)
    if args.lower_bound:
        _, data = simulated_city(work, args.seeds[0], args.days, args.visits_per_day)
        json.dump(lower_bound(data, args.visits_per_day), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    runs = []
    for seed in args.seeds:
        sim, data = simulated_city(work, seed, args.days, args.visits_per_day)
        marker = data / "requests-imported"
        if args.requests and not marker.exists():
            # A city feeds its Open311 requests too: the request signals (per category).
            cli("--data", str(data), "requests", "import", str(sim / "requests.jsonl"),
                "--site", SITE, "--no-triage", "--json")
            marker.touch()
        elif not args.requests and marker.exists():
            sys.exit(f"{data} holds the requests; use another --work without --requests")
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


def _base_rates(data: Path) -> dict[str, float]:
    """Mean sessions per day: visits per service / page group, and entries from social
    networks (`social:KEY`) and campaign links (`campaign:KEY`)."""
    import duckdb

    con = duckdb.connect(str(data / "amtspuls.duckdb"), read_only=True)
    days = con.execute("SELECT epoch(max(ts) - min(ts)) / 86400 FROM events").fetchall()[0][0]
    key = ("CASE WHEN path LIKE '/aktuelles/%' THEN '/aktuelles' "
           "WHEN coalesce(service_id, 'none') <> 'none' THEN service_id "
           "ELSE '/' || split_part(path, '/', 2) END")
    rows = con.execute(f"""
        SELECT {key} AS k, count(DISTINCT session_id),
               count(DISTINCT session_id) FILTER (WHERE referrer_class = 'social'),
               count(DISTINCT session_id) FILTER (WHERE referrer_class = 'campaign')
        FROM events WHERE type = 'pageview' GROUP BY 1""").fetchall()
    con.close()
    out: dict[str, float] = {}
    for k, n, social, campaign in rows:
        out[k] = n / days
        out["social:" + k] = social / days
        out["campaign:" + k] = campaign / days
    return out


def lower_bound(data: Path, visits_per_day: int, n: int = 400) -> dict:
    import numpy as np
    from scipy import stats

    from amtspuls.simulate.config import SimConfig
    from amtspuls.simulate.incidents import CAMPAIGN_SERVICES, STORM_SERVICES

    cfg = SimConfig()
    ic = cfg.incidents
    wd = np.asarray(cfg.traffic.hourly_weekday, dtype=np.float64)
    share = wd / wd.sum()  # of a day's visits per local hour
    soft = 0.35 + 0.65 * wd / wd.mean()  # incidents follow the day, softened
    base = _base_rates(data)
    rng = np.random.default_rng(0)

    def minutes(base_day: float, excess, h0: float, alpha: float, tmax: int = 1440) -> int:
        """First minute at which the median count since the start (baseline + excess)
        reaches the one-sided critical value of Poisson(baseline) at level alpha."""
        b = x = 0.0
        for t in range(tmax):
            h = int((h0 + t / 60.0) % 24)
            b += base_day * share[h] / 60.0
            x += excess(t, h)
            if t % 5 == 4 and b + x - 1 / 3 >= stats.poisson.isf(alpha, b) + 1:
                return t + 1
        return tmax

    storm_day = sum(base[s] for s, _ in STORM_SERVICES)

    def storm(alpha: float, part: float, part_base: float) -> int:
        mag = rng.uniform(*ic.storm_magnitude)
        dur = rng.uniform(*ic.storm_hours) * 60

        def ex(t: int, h: int) -> float:
            return (part * (mag - 1) * storm_day / 1440
                    * np.sin(np.pi * min(t / dur, 1.0)) ** 0.5 * soft[h])

        return minutes(part_base, ex, rng.uniform(0, 24), alpha)

    def campaign(alpha: float, via_links: bool) -> int:
        svc = CAMPAIGN_SERVICES[rng.integers(len(CAMPAIGN_SERVICES))]
        mag = rng.uniform(*ic.campaign_magnitude)
        tau = max(1.0, rng.uniform(*ic.campaign_days) / 3.0)
        part = 0.35 if via_links else 1.0  # share of its visitors arriving by a link

        def ex(t: int, h: int) -> float:
            d = t / 1440
            return (part * (mag - 1) * base[svc] / 1440 * np.exp(-max(d - 0.5, 0) / tau)
                    * min(1.0, (d + 0.05) / 0.5) * soft[h])

        b = base["campaign:" + svc] if via_links else base[svc]
        return minutes(b, ex, rng.uniform(9, 11), alpha)

    def viral(alpha: float, via_social: bool) -> int:
        mag = rng.uniform(*ic.viral_magnitude)
        dur = rng.uniform(*ic.viral_hours) * 60
        rise, tau = max(30.0, dur * 0.06), max(60.0, dur / 3.5)
        t = np.arange(int(dur))
        total = np.where(t < rise, t / rise, np.exp(-(t - rise) / tau)).sum()
        peak = mag * visits_per_day / total * (0.6 if via_social else 1.0)

        def ex(t: int, h: int) -> float:
            return peak * (t / rise if t < rise else np.exp(-(t - rise) / tau))

        b = base["social:/aktuelles"] if via_social else base["/aktuelles"]
        return minutes(b, ex, rng.uniform(6, 20), alpha)

    best = max(STORM_SERVICES, key=lambda s: s[1] ** 2 / base[s[0]])
    cases = {
        "storm: all its services together": lambda a: storm(a, 1.0, storm_day),
        f"storm: the best single service ({best[0]})":
            lambda a: storm(a, best[1], base[best[0]]),
        "campaign: visits of its service": lambda a: campaign(a, False),
        "campaign: entries from campaign links": lambda a: campaign(a, True),
        "viral_news: visits of the news section": lambda a: viral(a, False),
        "viral_news: entries from social networks": lambda a: viral(a, True),
    }
    out: dict = {"method": "oracle: known start and signals, one Poisson test since the "
                 "start; median delay over simulated incidents of each kind", "n": n}
    for label, alpha in (("alpha=1e-6.5 (alert level of one signal)", 10 ** -6.5),
                         ("alpha=1e-4 (no multiple testing at all)", 1e-4)):
        res = {}
        for case, fn in cases.items():
            m = np.array([fn(alpha) for _ in range(n)])
            res[case] = {"median_minutes": float(np.median(m)),
                         "share_within_60_minutes": round(float(np.mean(m <= 60)), 2)}
        out[label] = res
    return out


if __name__ == "__main__":
    main()
