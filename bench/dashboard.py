"""Server time of the dashboard's overview page over a large store.

    .venv/bin/python bench/dashboard.py [--events 10000000] [--runs 5]

Fills a fresh data directory with N synthetic events exactly as `bench/reports.py` does
(90 days, moved so that they end now, so the live and today sections have data), builds
the daily aggregates, then requests the overview page (live figures, today vs usual,
key figures with comparison period, alerts, top pages, referrers) through the real app
in-process, logged in, for the last 30 days: the median of several runs after one
warm-up, and the same for the other pages. Prints JSON."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from amtspuls.config import load_settings  # noqa: E402
from amtspuls.serve.app import create_app  # noqa: E402
from amtspuls.serve.auth import add_user  # noqa: E402
from amtspuls.store import open_store  # noqa: E402
from reports import fill  # noqa: E402  (bench/reports.py)

PASSWORD = "bench-passwort-1"


def shift_to_now(store) -> None:
    """Move the synthetic 90 days (from 2026-01-01) so that they end a minute ago."""
    con = store.con
    last = con.execute("SELECT max(ts) FROM events").fetchall()[0][0]
    shift = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1) - last
    micros = int(shift.total_seconds() * 1e6)
    con.execute(f"UPDATE events SET ts = ts + to_microseconds({micros})")
    con.execute(f"UPDATE sessions SET start_ts = start_ts + to_microseconds({micros}), "
                f"end_ts = end_ts + to_microseconds({micros})")
    con.execute("DELETE FROM dirty_days")
    con.execute("INSERT INTO dirty_days SELECT DISTINCT site_id, CAST(ts AS DATE) - 1 FROM events "
                "UNION SELECT DISTINCT site_id, CAST(ts AS DATE) FROM events "
                "UNION SELECT DISTINCT site_id, CAST(ts AS DATE) + 1 FROM events")
    con.execute("CHECKPOINT")


def timed(client, url: str, runs: int) -> float:
    client.get(url)  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return round(statistics.median(times), 1)


def main() -> None:
    from fastapi.testclient import TestClient

    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--all-pages", action="store_true",
                    help="time every page, not only the overview")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # no early-warning watch loop during the measurement
        (Path(tmp) / "amtspuls.toml").write_text("[warning]\nwatch_in_serve = false\n")
        settings = load_settings(Path(tmp))
        store = open_store(settings)
        t0 = time.perf_counter()
        fill(store, args.events)
        shift_to_now(store)
        fill_s = time.perf_counter() - t0
        site = store.get_site("bench.example")
        t0 = time.perf_counter()
        store.refresh_daily(site)
        aggregate_s = time.perf_counter() - t0
        add_user(store, "bench", "admin", PASSWORD)
        events = store.con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        store.close()

        app = create_app(load_settings(Path(tmp)))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            page = client.get("/anmelden")
            token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            r = client.post("/anmelden", data={"name": "bench", "password": PASSWORD,
                                               "csrf": token}, follow_redirects=False)
            assert r.status_code == 303, r.text[:300]
            query = "?site=bench.example"
            results = {"uebersicht": timed(client, "/dashboard/" + query, args.runs)}
            if args.all_pages:
                for slug in ("leistungen", "suche", "wege", "fruehwarnung", "prognose",
                             "empfehlungen", "anliegen", "einstellungen"):
                    results[slug] = timed(client, f"/dashboard/{slug}{query}", args.runs)
        print(json.dumps({"events": events, "fill_seconds": round(fill_s, 1),
                          "daily_aggregates_seconds": round(aggregate_s, 1),
                          "median_ms": results,
                          "overview_under_1s": results["uebersicht"] < 1000}, indent=2))


if __name__ == "__main__":
    main()
