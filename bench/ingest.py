"""Live tracking under sustained load, on loopback.

Starts `amtspuls serve` (fresh data directory, rate limit off), then runs the load
generator (`bench/loadgen.py`, a separate process) for `--duration` seconds per mode and
reports events/s, latency percentiles, errors, the server's peak RSS and CPU time, how long
the server needed after the load to store the rest, and whether the store holds exactly
the acknowledged number of events.

    .venv/bin/python bench/ingest.py                       # 60 s single events, then bulk
    .venv/bin/python bench/ingest.py --duration 20 --modes collect
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
SITE = "www.musterstadt.de"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmHWM:", "VmRSS:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])  # kB
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    out["cpu_ms"] = int((int(fields[11]) + int(fields[12])) * 1000 / tick)
    return out


def thread_cpu(pid: int) -> dict[str, int]:
    """CPU milliseconds per thread name (DuckDB's workers summed)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if task.name == str(pid):
            name = "main (event loop)"
        ms = int((int(fields[11]) + int(fields[12])) * 1000 / tick)
        out[name] = out.get(name, 0) + ms
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=60.0, help="seconds per mode (default 60)")
    p.add_argument("--modes", default="collect,bulk",
                   help="comma-separated loadgen modes: collect, bulk, matomo, matomo-bulk, "
                        "plausible, mixed")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--batch", type=int, default=100, help="events per bulk request")
    p.add_argument("--out", help="also write the results as JSON to this file")
    args = p.parse_args()

    results = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()},
               "runs": []}
    for mode in args.modes.split(","):
        results["runs"].append(run_mode(mode.strip(), args))
    results["machine"]["load_after"] = os.getloadavg()
    for r in results["runs"]:
        lat = r["load"]["latency_ms"]
        print(f"{r['mode']:>12}: {r['load']['events_per_s']:>9,.0f} events/s "
              f"({r['load']['requests_per_s']:,.0f} requests/s), p50 {lat['p50']} ms, "
              f"p99 {lat['p99']} ms, errors {r['errors']}, non-2xx {r['non_2xx']}, "
              f"server peak RSS {r['server']['peak_rss_mib']} MiB, "
              f"stored {r['stored']:,} of {r['load']['events']:,} acknowledged, "
              f"drained {r['drain_seconds']} s after the load", file=sys.stderr)
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


def run_mode(mode: str, args: argparse.Namespace) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMTSPULS_")}
    env["AMTSPULS_COLLECT_RATE_LIMIT"] = "0"
    with tempfile.TemporaryDirectory(prefix="amtspuls-bench-") as tmp:
        data = Path(tmp) / "data"
        amtspuls = [sys.executable, "-m", "amtspuls.cli", "--data", str(data)]
        subprocess.run([*amtspuls, "site", "add", SITE], check=True, env=env,
                       capture_output=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = open(Path(tmp) / "serve.log", "wb")  # noqa: SIM115
        server = subprocess.Popen([*amtspuls, "serve", "--port", str(port)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(base + "/js/amtspuls.js", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            before = proc_status(server.pid)
            threads_before = thread_cpu(server.pid)
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            load = subprocess.run(
                [sys.executable, str(HERE / "loadgen.py"), "--url", base, "--site", SITE,
                 "--mode", mode, "--duration", str(args.duration),
                 "--concurrency", str(args.concurrency), "--batch", str(args.batch)],
                check=True, capture_output=True, text=True, env=env,
            )
            summary = json.loads(load.stdout)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            loadgen_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime
                                                               + children.ru_stime)
            status = proc_status(server.pid)
            threads = thread_cpu(server.pid)
            load_end = time.monotonic()
            server.send_signal(signal.SIGTERM)
            server.wait(600)
            drain = time.monotonic() - load_end
        finally:
            if server.poll() is None:
                server.kill()
            log.close()
        con = duckdb.connect(str(data / "amtspuls.duckdb"), read_only=True)
        stored = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        con.close()
        log_text = (Path(tmp) / "serve.log").read_text(errors="replace")
    non_2xx = {k: v for k, v in summary["status"].items() if not k.startswith("2")}
    return {
        "mode": mode,
        "load": summary,
        "errors": sum(summary["errors"].values()),
        "non_2xx": sum(non_2xx.values()),
        "server": {"peak_rss_mib": round(status["VmHWM"] / 1024, 1),
                   "cpu_seconds_during_load": round((status["cpu_ms"] - before["cpu_ms"]) / 1000,
                                                    1),
                   "cpu_seconds_by_thread": {
                       k: round((v - threads_before.get(k, 0)) / 1000, 1)
                       for k, v in sorted(threads.items()) if v - threads_before.get(k, 0) > 50},
                   "cpu_us_per_event": round((status["cpu_ms"] - before["cpu_ms"]) * 1000
                                             / max(summary["events"], 1), 1)},
        "loadgen_cpu_seconds": round(loadgen_cpu, 1),
        "stored": stored,
        "drain_seconds": round(drain, 1),
        "server_errors_logged": "Traceback" in log_text,
    }


if __name__ == "__main__":
    main()
