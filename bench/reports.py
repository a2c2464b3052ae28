"""Report latency over a large store.

    .venv/bin/python bench/reports.py [--events 10000000] [--runs 5]

Fills a fresh data directory with N synthetic events (90 days, 300 paths, realistic
type mix, sessions of 4 events) directly through SQL — this measures the report
queries, not the import — computes the daily aggregates (as an import does at its end),
then times every base report over the whole 90 days (the median of several runs, after
one warm-up) and prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from amtspuls.analyze.reports import BASE_REPORTS, run_report
from amtspuls.config import load_settings
from amtspuls.store import open_store


def fill(store, n: int) -> None:
    con = store.con
    site = store.ensure_site("bench.example")
    con.execute(
        f"""
        INSERT INTO events
        SELECT {site.id} AS site_id,
               TIMESTAMP '2026-01-01' + to_microseconds(CAST(i * (90 * 86400e6 / {n}) AS BIGINT)),
               CASE WHEN r < 0.70 THEN 'pageview' WHEN r < 0.78 THEN 'search'
                    WHEN r < 0.82 THEN 'download' WHEN r < 0.84 THEN 'not_found'
                    WHEN r < 0.88 THEN 'form_start' WHEN r < 0.91 THEN 'form_submit'
                    WHEN r < 0.93 THEN 'form_error' ELSE 'engagement' END,
               hash(i // 4) AS visitor_id,
               hash(i // 4, 's') AS session_id,
               '/leistungen/service-' || (hash(i) % 300) AS path,
               '' AS query, NULL AS title,
               CASE WHEN i % 4 = 0 THEN 'search' ELSE 'internal' END,
               CASE WHEN i % 4 = 0 THEN 'www.google.de' END,
               NULL, NULL,
               CASE WHEN r >= 0.70 AND r < 0.78 THEN 'anfrage ' || (hash(i) % 2000) END,
               CASE WHEN r >= 0.70 AND r < 0.78 THEN CAST(hash(i) % 20 AS INTEGER) END,
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 200, 1000,
               CASE WHEN i % 3 = 0 THEN 'desktop' ELSE 'mobile' END,
               'Chrome', '130', 'Android', 'service_' || (hash(i) % 88), 'bench'
        FROM (SELECT i, (hash(i, 'r') % 10000) / 10000.0 AS r FROM range({n}) t(i))
        """
    )
    con.execute(
        """
        INSERT INTO sessions
        SELECT session_id, any_value(site_id), any_value(visitor_id), min(ts), max(ts),
               date_diff('second', min(ts), max(ts)),
               count(*) FILTER (WHERE type = 'pageview'),
               count(*) FILTER (WHERE type IN ('pageview', 'search', 'not_found')),
               count(*), count(*) FILTER (WHERE type = 'search'),
               arg_min(path, ts), arg_max(path, ts), arg_min(referrer_class, ts),
               arg_min(referrer_host, ts), NULL, any_value(device), any_value(browser),
               any_value(os), NULL,
               count(*) FILTER (WHERE type IN ('pageview', 'search', 'not_found')) <= 1
        FROM events GROUP BY session_id
        """
    )
    con.execute(
        f"INSERT INTO dirty_days SELECT DISTINCT {site.id}, CAST(ts AS DATE) FROM events"
    )
    con.execute("CHECKPOINT")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp))
        store = open_store(settings)
        t0 = time.perf_counter()
        fill(store, args.events)
        fill_s = time.perf_counter() - t0
        site = store.get_site("bench.example")
        t0 = time.perf_counter()
        store.refresh_daily(site)  # what an import does at its end
        aggregate_s = time.perf_counter() - t0
        from datetime import date

        lo, hi = date(2026, 1, 1), date(2026, 3, 31)
        results = {}
        for name in BASE_REPORTS:
            run_report(store, site, name, lo, hi)  # warm-up
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                run_report(store, site, name, lo, hi)
                times.append((time.perf_counter() - t) * 1000)
            results[name] = round(statistics.median(times), 1)
        events = store.con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        print(json.dumps({"events": events, "fill_seconds": round(fill_s, 1),
                          "daily_aggregates_seconds": round(aggregate_s, 1),
                          "median_ms": results, "max_ms": max(results.values())}, indent=2))


if __name__ == "__main__":
    main()
