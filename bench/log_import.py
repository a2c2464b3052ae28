"""Import speed and memory: amtspuls import-logs vs GoAccess on the same combined log.

    .venv/bin/python bench/log_import.py [--lines 2000000] [--seed 1]

Generates a combined-format log (German municipal paths, current browser agents, 35 %
bot lines, static assets, 404s, PDFs), then runs, one after the other on the same file:

    amtspuls --data TMP import-logs FILE --site bench.example --json
    goaccess FILE --log-format=COMBINED -o report.json

and prints lines/s, wall seconds and peak RSS (of each process, from wait4), the ratios
and the import's own `step_seconds`. Results go to stdout as one JSON document; copy them
into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"

SERVICES = [
    "personalausweis", "reisepass", "wohnsitz-anmelden", "ummeldung", "fuehrerschein",
    "kfz-zulassung", "sperrmuell", "abfallkalender", "hundesteuer", "grundsteuer",
    "wohngeld", "elterngeld", "kita-anmeldung", "bauantrag", "gewerbeanmeldung",
    "geburtsurkunde", "eheschliessung", "briefwahl", "parkausweis", "baumschutz",
]
SECTIONS = ["leistungen", "online", "aktuelles", "rathaus", "veranstaltungen", "kontakt"]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S9{m}1B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_{m}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{m} Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0",
    "Mozilla/5.0 (iPad; CPU OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{m} Mobile/15E148 Safari/604.1",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "python-requests/2.31.0", "curl/8.5.0", "Go-http-client/1.1",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
]
REFERRERS = ["-", "-", "https://www.google.de/", "https://www.bing.com/",
             "https://www.musterstadt.de/", "https://www.musterstadt.de/leistungen/",
             "https://duckduckgo.com/", "https://www.facebook.com/"]


def generate(path: Path, lines: int, seed: int) -> None:
    rng = random.Random(seed)
    agents = [b.format(v=rng.randint(118, 131), m=rng.randint(0, 6))
              for b in BROWSERS for _ in range(40)]
    t = datetime(2026, 3, 2, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    step = timedelta(seconds=90 * 86400 / lines)
    pages = [f"/{s}/{svc}" for s in SECTIONS for svc in SERVICES] + ["/", "/suche"]
    statics = ["/static/css/site.css", "/static/js/app.js", "/static/img/logo.svg",
               "/static/fonts/sans.woff2", "/favicon.ico"]
    with path.open("w", encoding="utf-8") as fh:
        buf = []
        for _ in range(lines):
            t += step
            ts = t.strftime("%d/%b/%Y:%H:%M:%S %z")
            octets = (rng.randint(2, 223), rng.randint(0, 255), rng.randint(0, 255),
                      rng.randint(1, 254))
            ip = ".".join(map(str, octets))
            human, ref = rng.choice(agents), rng.choice(REFERRERS)
            r = rng.random()
            if r < 0.35:
                ua, url, status, ref = rng.choice(BOTS), rng.choice(pages), 200, "-"
            elif r < 0.65:
                ua, url, status = human, rng.choice(statics), 200
            elif r < 0.68:
                ua, url, status = human, f"/alt/{rng.randint(1, 500)}", 404
            elif r < 0.72:
                ua, url, status = human, f"/fileadmin/formulare/{rng.choice(SERVICES)}.pdf", 200
            elif r < 0.75:
                ua, url, status = human, f"/suche?q={rng.choice(SERVICES)}", 200
            else:
                ua, url, status = human, rng.choice(pages), rng.choice((200, 200, 200, 304))
            size = rng.randint(200, 90000)
            buf.append(f'{ip} - - [{ts}] "GET {url} HTTP/1.1" {status} {size} "{ref}" "{ua}"\n')
            if len(buf) >= 100_000:
                fh.writelines(buf)
                buf.clear()
        fh.writelines(buf)


def run_measured(cmd: list[str], cwd: Path) -> tuple[float, int, int, bytes]:
    """Wall seconds, peak RSS (KiB) of this one process, exit code, stdout. Output goes
    to files (GoAccess writes progress to stderr; a pipe could fill and stall it)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code != 0:
            raise SystemExit(f"{cmd[0]} failed ({code}): {err.read().decode()[-2000:]}")
        return seconds, usage.ru_maxrss, code, out.read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    log = OUT / f"combined-{args.lines}-{args.seed}.log"
    if not log.exists():
        t0 = time.perf_counter()
        generate(log, args.lines, args.seed)
        print(f"generated {log} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    amtspuls = [sys.executable, "-m", "amtspuls.cli"]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        secs, rss, _, out = run_measured(
            [*amtspuls, "--data", str(data), "import-logs", str(log), "--site", "bench.example",
             "--json"], Path(tmp))
        report = json.loads(out)
        assert report["imported"] + report["malformed"] == report["lines"] == args.lines
        results["amtspuls"] = {"seconds": round(secs, 2), "lines_per_s": round(args.lines / secs),
                               "peak_rss_mib": round(rss / 1024, 1),
                               "pageviews": report["pageviews"], "bots": report["bots"],
                               "step_seconds": report.get("step_seconds", {})}
        goaccess = shutil.which("goaccess")
        if goaccess:
            secs, rss, _, _ = run_measured(
                [goaccess, str(log), "--log-format=COMBINED", "-o", str(Path(tmp) / "report.json")],
                Path(tmp))
            results["goaccess"] = {"seconds": round(secs, 2),
                                   "lines_per_s": round(args.lines / secs),
                                   "peak_rss_mib": round(rss / 1024, 1)}
            results["ratio"] = {
                "speed_amtspuls_over_goaccess": round(
                    results["amtspuls"]["lines_per_s"] / results["goaccess"]["lines_per_s"], 2),
                "rss_amtspuls_over_goaccess": round(
                    results["amtspuls"]["peak_rss_mib"] / results["goaccess"]["peak_rss_mib"], 2),
            }
    print(json.dumps({"lines": args.lines, "cores": os.cpu_count(), **results}, indent=2))


if __name__ == "__main__":
    main()
