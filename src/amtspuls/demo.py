"""`make demo`: simulate Musterstadt, import it, analyse it, serve the dashboard.

Runs the same commands a city's team would run (they are printed as they run), on the
embedded default: 90 days of the simulated city of Musterstadt.

    python -m amtspuls.demo [--dir demo-data] [--days 90] [--seed 7] [--no-serve]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

SITE = "www.musterstadt.de"
LOG_SITE = "logs.musterstadt.de"


def amtspuls(*args: str, capture: bool = False) -> str:
    cmd = [sys.executable, "-m", "amtspuls.cli", *args]
    print("$ amtspuls " + " ".join(args), flush=True)
    result = subprocess.run(cmd, check=False, text=True,
                            stdout=subprocess.PIPE if capture else None)
    if result.returncode != 0:
        raise SystemExit(f"demo: step failed (exit {result.returncode})")
    return result.stdout or ""


def main() -> None:
    ap = argparse.ArgumentParser(description="amtspuls demo on simulated Musterstadt")
    ap.add_argument("--dir", default="demo-data")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--visits-per-day", type=int, default=8000)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--no-serve", action="store_true")
    args = ap.parse_args()

    base = Path(args.dir)
    sim = base / f"musterstadt-{args.days}d-seed{args.seed}-{args.visits_per_day}"
    data = base / "data"
    if not (sim / "truth.json").exists():
        amtspuls("simulate", "--out", str(sim), "--days", str(args.days), "--seed",
                 str(args.seed), "--visits-per-day", str(args.visits_per_day))
    # A fresh data directory each time: the demo shows one simulated quarter, once.
    shutil.rmtree(data, ignore_errors=True)
    d = ["--data", str(data)]
    amtspuls(*d, "site", "add", SITE)
    # The server log is imported into a site of its own (the tracker already counts the
    # same visits); links from the main host name are internal there too.
    amtspuls(*d, "site", "add", LOG_SITE, "--alias", SITE)
    amtspuls(*d, "import-events", str(sim / "events.jsonl.gz"), "--site", SITE)
    amtspuls(*d, "import-logs", str(sim / "access.log.gz"), "--site", LOG_SITE)
    amtspuls(*d, "requests", "import", str(sim / "requests.jsonl"), "--site", SITE)
    overview = json.loads(amtspuls(*d, "report", "overview", "--site", SITE, "--json",
                                   capture=True))
    print("\nMusterstadt, letzte 30 Tage:")
    for key, value in overview.items():
        print(f"  {key:>20}: {value}")
    amtspuls(*d, "report", "pages", "--site", SITE, "--limit", "10")
    print("\nHandlungsempfehlungen (letzte 28 Tage):")
    amtspuls(*d, "recommend", "--site", SITE, "--limit", "10")
    amtspuls(*d, "report", "weekly", "--site", SITE, "--out", str(base / "wochenbericht.html"))
    print(f"Wochenbericht: {base / 'wochenbericht.html'}")
    if args.no_serve:
        return
    from amtspuls.serve.auth import demo_user

    name, password = demo_user(data)
    print(f"\nDashboard: http://{args.host}:{args.port}/  (Strg+C beendet)")
    print(f"Anmeldung: Benutzer {name!r}, Passwort {password!r}\n")
    amtspuls(*d, "serve", "--host", args.host, "--port", str(args.port))


if __name__ == "__main__":
    main()
