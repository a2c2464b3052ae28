"""Evaluate citizen-needs analytics against the simulator's ground truth (held-out seed).

    .venv/bin/python bench/needs_eval.py --seed 23 [--days 30] [--visits-per-day 2000]
                                         [--work DIR] [--json]

1. `amtspuls simulate` writes Musterstadt traffic and `truth.json` for the seed (skipped if
   WORK/sim already holds it), `amtspuls import-events` stores the events.
2. Query → service: every query of `truth.search_queries` is mapped by the site's mapper
   (lexicon + catalogue + what the site's stored behaviour taught; the truth is used for
   nothing but scoring). Accuracy per distinct query and weighted by searches.
3. Searches per completed form, per service, from `report services` against
   `truth.searches_per_completed_form`: the share of services within 10 %, overall and for
   services with at least 100 submits (smaller ones are dominated by sampling noise: the
   truth also counts the visits whose tracker was blocked).
4. The hand-written query set tests/needs/queries_de.tsv: accuracy and `none` recall on the
   dev half (even lines) and the held-out half (odd lines).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = "www.musterstadt.de"
QUERY_SET = ROOT / "tests" / "needs" / "queries_de.tsv"


def run(exe: str, *args: str) -> str:
    return subprocess.run([exe, *args], check=True, capture_output=True, text=True).stdout


def load_query_set(path: Path = QUERY_SET) -> list[tuple[str, str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#") or line.startswith("query\t"):
            continue
        q, expected, kind = line.split("\t")
        rows.append((q, expected, kind))
    return rows


def score_query_set(mapper, rows: list[tuple[str, str, str]]) -> dict:
    out = mapper.map_many(q for q, _, _ in rows)
    ok = sum(r["service_id"] == e for r, (_, e, _) in zip(out, rows, strict=True))
    nones = [(r, e) for r, (_, e, _) in zip(out, rows, strict=True) if e == "none"]
    by_kind: Counter = Counter()
    n_kind: Counter = Counter()
    for r, (_, e, kind) in zip(out, rows, strict=True):
        n_kind[kind] += 1
        by_kind[kind] += r["service_id"] == e
    return {
        "queries": len(rows),
        "accuracy": round(ok / len(rows), 4),
        "none_recall": round(sum(r["service_id"] == "none" for r, _ in nones) / len(nones), 4)
        if nones else None,
        "by_kind": {k: f"{by_kind[k]}/{n_kind[k]}" for k in sorted(n_kind)},
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--visits-per-day", type=int, default=2000)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("amtspuls"))
    work = args.work or Path(f"/tmp/amtspuls-needs-eval-{args.seed}")
    sim, data = work / "sim", work / "data"
    result: dict = {"seed": args.seed, "days": args.days, "visits_per_day": args.visits_per_day}
    if not (sim / "truth.json").is_file():
        run(exe, "simulate", "--out", str(sim), "--days", str(args.days), "--seed",
            str(args.seed), "--visits-per-day", str(args.visits_per_day), "--json")
    if not (data / "amtspuls.duckdb").is_file():
        run(exe, "--data", str(data), "import-events", str(sim / "events.jsonl.gz"),
            "--site", SITE, "--json")
    truth = json.loads((sim / "truth.json").read_text(encoding="utf-8"))

    from amtspuls.analyze.querymap import QueryMapper
    from amtspuls.analyze.search import site_mapper
    from amtspuls.config import load_settings
    from amtspuls.store import open_store

    store = open_store(load_settings(data))
    site = store.get_site(SITE)
    t = time.perf_counter()
    mapper = site_mapper(store, site)
    build = time.perf_counter() - t
    queries = truth["search_queries"]
    stats = truth.get("search_query_stats", {})
    texts = list(queries)
    t = time.perf_counter()
    mapped = mapper.map_many(texts)
    rate = len(texts) / (time.perf_counter() - t)
    plain = QueryMapper().map_many(texts)
    ok = okw = tot = ok_plain = 0
    for q, r, p in zip(texts, mapped, plain, strict=True):
        exp = queries[q] or "none"
        n = int(stats.get(q, {}).get("n", 1))
        ok += r["service_id"] == exp
        ok_plain += p["service_id"] == exp
        okw += n * (r["service_id"] == exp)
        tot += n
    result["query_mapping"] = {
        "distinct_queries": len(texts),
        "accuracy": round(ok / len(texts), 4),
        "accuracy_weighted_by_searches": round(okw / tot, 4),
        "accuracy_without_learning": round(ok_plain / len(texts), 4),
        "learned_examples": len(mapper._learned_exact),
        "mapper_build_seconds": round(build, 2),
        "queries_per_second": round(rate),
    }
    store.close()
    services = json.loads(run(exe, "--data", str(data), "report", "services", "--site", SITE,
                              "--from", truth["start"], "--to", truth["end"], "--limit",
                              "1000", "--json"))
    want = truth["searches_per_completed_form"]
    rows = []
    for r in services["services"]:
        sid = r["service_id"]
        if sid in want and r.get("searches_per_completed_form") is not None:
            got, exp = r["searches_per_completed_form"], want[sid]
            rows.append({"service_id": sid, "submits": r["form_submits"], "measured": got,
                         "truth": exp,
                         "rel_error": round(abs(got - exp) / exp, 4) if exp else None})
    within = [r for r in rows if r["rel_error"] is not None and r["rel_error"] <= 0.10]
    big = [r for r in rows if r["submits"] >= 100]
    big_within = [r for r in big if r["rel_error"] is not None and r["rel_error"] <= 0.10]
    result["searches_per_completed_form"] = {
        "services": len(rows),
        "within_10_percent": len(within),
        "share_within_10_percent": round(len(within) / len(rows), 4) if rows else None,
        "services_with_100_submits": len(big),
        "within_10_percent_of_those": len(big_within),
        "median_rel_error": sorted(r["rel_error"] for r in rows)[len(rows) // 2] if rows else None,
        "worst": sorted(rows, key=lambda r: -(r["rel_error"] or 0))[:5],
    }
    query_set = load_query_set()
    result["query_set"] = {
        "dev": score_query_set(QueryMapper(), query_set[0::2]),
        "test": score_query_set(QueryMapper(), query_set[1::2]),
    }
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        qm, sp = result["query_mapping"], result["searches_per_completed_form"]
        print(f"seed {args.seed}: query→service accuracy {qm['accuracy']} "
              f"(weighted {qm['accuracy_weighted_by_searches']}, without learning "
              f"{qm['accuracy_without_learning']}) over {qm['distinct_queries']} queries, "
              f"{qm['queries_per_second']} queries/s")
        print(f"searches per completed form: {sp['within_10_percent']}/{sp['services']} within "
              f"10 % ({sp['within_10_percent_of_those']}/{sp['services_with_100_submits']} of "
              f"services with ≥100 submits), median error {sp['median_rel_error']}")
        for half in ("dev", "test"):
            r = result["query_set"][half]
            print(f"query set {half}: accuracy {r['accuracy']} none recall {r['none_recall']} "
                  f"({r['queries']} queries) {r['by_kind']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
