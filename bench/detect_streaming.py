"""Streaming cost of the early warning: live traffic of 1,000 tracker events per second
is written to a real DuckDB store minute by minute, and after each minute the watch
loop's detector scores the new events (reading only the events after the last scored
minute). Prints one JSON document with the detector's CPU time per minute of traffic
and its share of one core.

    .venv/bin/python bench/detect_streaming.py --minutes 20 --rate 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from amtspuls.analyze.detect.config import WarningConfig
from amtspuls.analyze.detect.runner import Stream
from amtspuls.catalog import service_ids
from amtspuls.config import Settings
from amtspuls.store import open_store

GROUPS = ["/", "/aktuelles", "/rathaus", "/veranstaltungen", "/lebenslagen", "/kontakt"]


def minute_of_events(rng: np.random.Generator, t0: datetime, n: int, first_sid: int,
                     services: list[str]) -> tuple[pa.Table, int]:
    """n events in the minute from t0: sessions of ~5 events (pages, forms, searches)."""
    sessions = max(1, n // 5)
    sid = first_sid + rng.integers(0, sessions, n)
    kind = rng.choice(["pageview", "search", "form_start", "form_submit", "form_error",
                       "engagement"], n, p=[0.55, 0.05, 0.05, 0.04, 0.01, 0.30])
    svc_i = rng.integers(0, len(services) + len(GROUPS), n)
    is_svc = svc_i < len(services)
    service = np.where(is_svc, np.array(services + [""] * len(GROUPS))[svc_i], "none")
    path = np.where(is_svc, np.char.add("/leistungen/", service.astype(str)),
                    np.array([""] * len(services) + GROUPS)[svc_i])
    form = np.where(np.isin(kind, ["form_start", "form_submit", "form_error"]) & is_svc,
                    service, None)
    ts = [t0 + timedelta(milliseconds=int(x)) for x in np.sort(rng.integers(0, 60_000, n))]
    table = pa.table({
        "site_id": pa.array(np.ones(n, dtype=np.int32)),
        "ts": pa.array(ts, pa.timestamp("us")),
        "type": pa.array(kind.tolist(), pa.string()),
        "visitor_id": pa.array(sid.astype(np.uint64)),
        "session_id": pa.array(sid.astype(np.uint64)),
        "path": pa.array(path.tolist(), pa.string()),
        "service_id": pa.array(service.tolist(), pa.string()),
        "form": pa.array(form.tolist(), pa.string()),
        "search_results": pa.array(rng.integers(0, 5, n).astype(np.int32)),
        # Entries from social networks and campaign links are signals of their own.
        "referrer_class": pa.array(rng.choice(
            ["internal", "search", "direct", "social", "campaign"], n,
            p=[0.6, 0.2, 0.12, 0.06, 0.02]).tolist(), pa.string()),
    })
    return table, first_sid + sessions


def insert(store, table: pa.Table) -> None:
    with store._lock:
        store.con.register("bench_rows", table)
        store.con.execute("INSERT INTO events BY NAME SELECT * FROM bench_rows")
        store.con.unregister("bench_rows")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rate", type=int, default=1000, help="events per second")
    ap.add_argument("--minutes", type=int, default=20, help="measured minutes of traffic")
    ap.add_argument("--history-hours", type=int, default=6,
                    help="traffic before the measurement (learnt when the stream starts)")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    services = service_ids()[:80]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        store = open_store(settings)
        site = store.ensure_site("www.bench.de")
        now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
        start = now - timedelta(minutes=args.minutes + args.history_hours * 60)
        sid = 1
        per_minute = args.rate * 60
        # History at a tenth of the rate (only the signals' existence matters here).
        t = start
        while t < now - timedelta(minutes=args.minutes):
            table, sid = minute_of_events(rng, t, per_minute // 10, sid, services)
            insert(store, table)
            t += timedelta(minutes=1)
        wcfg = WarningConfig()
        wcfg.detect.warmup_hours = 0
        stream = Stream(store, site, wcfg)
        stream.tick(t + timedelta(minutes=1))  # learns the history (not measured)
        cpu, wall = [], []
        for _ in range(args.minutes):
            table, sid = minute_of_events(rng, t, per_minute, sid, services)
            insert(store, table)
            t += timedelta(minutes=1)
            c0, w0 = time.process_time(), time.perf_counter()
            stream.tick(t + timedelta(minutes=1))
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        events = store.con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        signals = stream.det.reg.n_signals if stream.det else 0
        store.close()
    med = statistics.median(cpu)
    out = {
        "events_per_second": args.rate,
        "events_per_minute": per_minute,
        "measured_minutes": args.minutes,
        "signals": signals,
        "events_in_store": int(events),
        "cpu_seconds_per_minute_median": round(med, 4),
        "cpu_seconds_per_minute_max": round(max(cpu), 4),
        "wall_seconds_per_minute_median": round(statistics.median(wall), 4),
        "share_of_one_core": round(med / 60.0, 5),
        "share_of_one_core_max": round(max(cpu) / 60.0, 5),
        "target": "< 0.10 of one core",
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
