"""`amtspuls topics` on 100,000 distinct search queries: wall time of the command.

    .venv/bin/python bench/topics_speed.py [--queries 100000] [--keep DIR]

Builds synthetic queries (catalogue names and lexicon words combined with filler words,
numbers and typos; deterministic), imports one search event per query (plus repeats of
some, from 5+ visitors, so that topics are shown) through `amtspuls import-events`, then
times `amtspuls --data DIR topics --site bench.example --json` as a subprocess. The
target is under 60 s on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote_plus

from amtspuls.catalog import load_catalog
from amtspuls.catalog.lexicon import bundled_lexicon

SITE = "bench.example"
FILLER = ("wie", "wo", "online", "beantragen", "kosten", "termin", "formular", "frist",
          "unterlagen", "öffnungszeiten", "2026", "dringend", "schnell", "hilfe", "antrag",
          "adresse", "telefon", "email", "dauer", "gebühr", "info", "neu", "ändern")


def typo(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.randrange(3)
    if op == 0:
        return word[:i] + word[i + 1:]
    if op == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + rng.choice("aeinrst") + word[i:]


def make_queries(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    lex = bundled_lexicon()
    pool: list[str] = []
    for s in load_catalog():
        pool.append(s.name_de.lower())
        e = lex.entries.get(s.id)
        if e:
            pool.extend(e.terms)
            pool.extend(e.context)
    words = sorted({w for p in pool for w in p.split()})
    out: dict[str, None] = {}
    while len(out) < n:
        parts = [rng.choice(pool)]
        for _ in range(rng.randrange(0, 3)):
            parts.append(rng.choice(FILLER) if rng.random() < 0.6 else rng.choice(words))
        if rng.random() < 0.3:
            j = rng.randrange(len(parts))
            parts[j] = " ".join(typo(rng, w) for w in parts[j].split())
        if rng.random() < 0.15:
            parts.append(str(rng.randrange(1, 9999)))
        rng.shuffle(parts)
        out[" ".join(parts)] = None
    return list(out)


def write_events(path: Path, queries: list[str], seed: int = 1) -> int:
    rng = random.Random(seed)
    t0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
    n = 0
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for i, q in enumerate(queries):
            repeats = 6 if i % 50 == 0 else 1  # every 50th query from 6 visitors
            for r in range(repeats):
                ts = t0 + timedelta(seconds=(i * 7 + r * 3) % (20 * 86400))
                ip = f"10.{(i * 7 + r) % 250}.{(i // 250 + r) % 250}.{r + 1}"
                ev = {"ts": ts.isoformat(), "ip": ip,
                      "ua": f"Mozilla/5.0 (X11; Linux x86_64) Firefox/{120 + r}.0",
                      "type": "search", "url": f"https://{SITE}/suche?q={quote_plus(q)}",
                      "query": q, "results": rng.randrange(0, 4)}
                fh.write(json.dumps(ev, ensure_ascii=False) + "\n")
                n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="keep the data directory here")
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("amtspuls"))
    tmp = Path(tempfile.mkdtemp(prefix="amtspuls-topics-"))
    data = args.keep or tmp / "data"
    try:
        queries = make_queries(args.queries)
        events = tmp / "events.jsonl.gz"
        n = write_events(events, queries)
        t = time.perf_counter()
        subprocess.run([exe, "--data", str(data), "import-events", str(events), "--site", SITE,
                        "--json"], check=True, stdout=subprocess.DEVNULL)
        t_import = time.perf_counter() - t
        t = time.perf_counter()
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([exe, "--data", str(data), "topics", "--site", SITE, "--json"],
                             check=True, capture_output=True, text=True)
        t_topics = time.perf_counter() - t
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        result = json.loads(out.stdout)
        print(json.dumps({
            "distinct_queries": result["queries"], "search_events": n,
            "import_seconds": round(t_import, 1), "topics_seconds": round(t_topics, 1),
            "topics_cpu_seconds": round(cpu, 1), "load_average": os.getloadavg()[0],
            "topics_shown": len(result["topics"]), "method": result["method"],
            "target_seconds": 60, "ok": t_topics < 60,
        }, indent=2))
        return 0 if t_topics < 60 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
