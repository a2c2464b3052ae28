"""Triage benchmarks, printed as one JSON document.

1. Konstanz Mängelmelder (real data, Stadt Konstanz, Offene Daten Konstanz, CC BY 4.0),
   time split: train on the reports of 2020–2021, test on 2022. The triage category model
   (same machinery, trained on Konstanz labels instead of service ids) against a plain
   baseline (TF-IDF word + character n-grams, logistic regression, trained on each label
   set). Main-category accuracy and sub-category macro-F1.
2. `--duplicates SEEDS`: duplicate groups (pairwise F1), near misses kept apart and
   priority-1 recall on simulator seeds not used for tuning (model trained on seed 11).
3. Latency of triaging one new request with the model loaded (p50/p95, ms).

    .venv/bin/python bench/triage_konstanz.py [--duplicates 20261,31,47] [--latency 300]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
KONSTANZ = (REPO.parent / "shared" / "data" / "realworld" / "konstanz-maengelmelder"
            / "maengelmelder_konstanz_2020-2022.csv")


def konstanz_rows(path: Path) -> list[dict]:
    from amtspuls.collect.open311 import read_konstanz

    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        for p in read_konstanz(fh, "Europe/Berlin", {}):
            if p.record is None:
                continue
            r = p.record
            rows.append({"text": r.text, "raw": r.description_raw, "lat": r.lat, "lon": r.long,
                         "label": r.external_category, "year": r.requested.year})
    return rows


def evaluate(y_true: list[str], y_pred: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    main_t = [y.split(" > ")[0] for y in y_true]
    main_p = [y.split(" > ")[0] for y in y_pred]
    return {"main_accuracy": round(accuracy_score(main_t, main_p), 4),
            "sub_macro_f1": round(f1_score(y_true, y_pred, average="macro", zero_division=0), 4),
            "sub_accuracy": round(accuracy_score(y_true, y_pred), 4)}


def baseline(train: list[dict], test: list[dict]) -> dict:
    """Plain TF-IDF (word + char n-grams of the raw text) + logistic regression, one model
    per label set: main categories for the main accuracy, sub-categories for macro-F1."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    def model(c: float):
        feats = make_union(TfidfVectorizer(sublinear_tf=True),
                           TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                           sublinear_tf=True))
        return make_pipeline(feats, LogisticRegression(C=c, max_iter=3000))

    x_tr, x_te = [r["raw"] for r in train], [r["raw"] for r in test]
    main = model(1.0).fit(x_tr, [r["label"].split(" > ")[0] for r in train]).predict(x_te)
    sub = model(100.0).fit(x_tr, [r["label"] for r in train]).predict(x_te)
    from sklearn.metrics import accuracy_score, f1_score

    y = [r["label"] for r in test]
    return {"main_accuracy": round(accuracy_score([t.split(" > ")[0] for t in y], main), 4),
            "sub_macro_f1": round(f1_score(y, sub, average="macro", zero_division=0), 4),
            "config": "word + char_wb(2,5) TF-IDF, LogisticRegression (C=1 main, C=100 sub)"}


def ours(train: list[dict], test: list[dict]) -> tuple[dict, object]:
    from amtspuls.analyze.triage.category import CategoryModel, Doc

    t0 = time.perf_counter()
    m = CategoryModel.train([Doc(r["text"], r["lat"], r["lon"]) for r in train],
                            [r["label"] for r in train], label_set="konstanz")
    seconds = time.perf_counter() - t0
    p = m.predict_proba([Doc(r["text"], r["lat"], r["lon"]) for r in test])
    cls = np.array(m.classes)
    sub = cls[p.argmax(axis=1)]
    # main category: the most probable main category (sum over its sub-categories)
    mains = np.array([c.split(" > ")[0] for c in cls])
    names = sorted(set(mains))
    pm = np.stack([p[:, mains == n].sum(axis=1) for n in names], axis=1)
    main = [names[k] for k in pm.argmax(axis=1)]
    y = [r["label"] for r in test]
    res = evaluate(y, list(sub))
    from sklearn.metrics import accuracy_score

    res["main_accuracy"] = round(accuracy_score([t.split(" > ")[0] for t in y], main), 4)
    res["train_seconds"] = round(seconds, 1)
    res["config"] = ("triage CategoryModel: folded/stemmed word + char 2-5 TF-IDF + location "
                     "cells, class-balanced linear SVM, Platt-calibrated (3 folds); main = "
                     "argmax of summed sub-category probabilities")
    return res, m


def simulated(seeds: list[int]) -> dict:
    from datetime import datetime

    from amtspuls.analyze.triage.duplicates import pairwise_f1
    from amtspuls.analyze.triage.engine import Triage
    from amtspuls.analyze.triage.intake import import_requests
    from amtspuls.analyze.triage.training import train_site
    from amtspuls.config import load_settings
    from amtspuls.simulate import SimConfig
    from amtspuls.simulate.requests import Reporter
    from amtspuls.simulate.world import build_world
    from amtspuls.store import open_store

    def write(path: Path, seed: int) -> list[dict]:
        pairs = Reporter(build_world(SimConfig(days=90, seed=seed))).run()
        with path.open("w", encoding="utf-8") as fh:
            for obj, _ in pairs:
                fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
        return [t for _, t in pairs]

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        settings = load_settings(d / "data")
        store = open_store(settings)
        hist = store.ensure_site("history.example")
        write(d / "train.jsonl", 11)
        import_requests(store, hist, settings, d / "train.jsonl", "open311", triage=False)
        train_site(store, hist, settings)
        model = Triage(store, hist, settings).model
        for seed in seeds:
            site = store.ensure_site(f"seed{seed}.example")
            truth = {t["service_request_id"]: t for t in write(d / f"{seed}.jsonl", seed)}
            import_requests(store, site, settings, d / f"{seed}.jsonl", "open311", triage=False)
            res = {r["service_request_id"]: r for r in Triage(store, site, settings, model=model)
                   .run_all(as_of=datetime(2026, 1, 1), log=False)}
            ids = sorted(truth)
            dup = pairwise_f1([res[i]["duplicate_group"] for i in ids],
                              [truth[i]["duplicate_group"] for i in ids])
            near = [(i, t["near_miss_of"]) for i, t in truth.items() if t["near_miss_of"]]
            together = sum(res[a]["duplicate_group"] == res[b]["duplicate_group"]
                           for a, b in near)
            p1 = [i for i, t in truth.items() if t["priority"] == 1]
            ok = sum(res[i]["priority"] <= 2 for i in p1)
            top1 = np.mean([res[i]["category"][0]["service_id"] == t["category"]
                            for i, t in truth.items()])
            out[str(seed)] = {"requests": len(ids), "duplicates": dup,
                              "near_miss_pairs": len(near), "near_miss_grouped": int(together),
                              "priority1": len(p1), "priority1_suggested_1_or_2": int(ok),
                              "category_top1": round(float(top1), 4)}
        store.close()
    f1s = [v["duplicates"]["f1"] for v in out.values()]
    return {"seeds": out, "duplicates_f1_mean": round(float(np.mean(f1s)), 4),
            "duplicates_f1_min": round(float(np.min(f1s)), 4)}


def latency(n: int) -> dict:
    """Triage of one new request (category, priority, duplicates against the last 30
    days, department) with a trained model loaded, 30 simulated days in the store."""
    from datetime import datetime, timedelta

    from amtspuls.analyze.triage.engine import Triage
    from amtspuls.analyze.triage.intake import import_requests, to_record
    from amtspuls.analyze.triage.training import train_site
    from amtspuls.collect.open311 import IncomingRequest
    from amtspuls.config import load_settings
    from amtspuls.simulate import SimConfig
    from amtspuls.simulate.requests import Reporter
    from amtspuls.simulate.world import build_world
    from amtspuls.store import open_store
    from amtspuls.store.requests_store import RequestStore

    texts = ["Die Straßenlaterne vor Nr. 12 ist seit Tagen aus.",
             "Riesiges Schlagloch an der Einmündung, Radfahrer weichen aus.",
             "Wilder Müll am Waldrand: Matratze und Reifen."]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        settings = load_settings(d / "data")
        store = open_store(settings)
        site = store.ensure_site("latency.example")
        pairs = Reporter(build_world(SimConfig(days=30, seed=3))).run()
        with (d / "r.jsonl").open("w", encoding="utf-8") as fh:
            for obj, _ in pairs:
                fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
        import_requests(store, site, settings, d / "r.jsonl", "open311")
        train_site(store, site, settings)
        engine = Triage(store, site, settings)
        rs = RequestStore(store)
        last = max(o["requested_datetime"] for o, _ in pairs)
        t_new = datetime.fromisoformat(last).replace(tzinfo=None) + timedelta(hours=1)
        times, answer = [], []
        rng = np.random.default_rng(7)
        for k in range(n):
            # a realistic stream: new reports spread over the city (~8 x 6 km)
            lat, lon = 51.2561 + rng.uniform(-0.027, 0.027), 7.7483 + rng.uniform(-0.057, 0.057)
            req = IncomingRequest(None, texts[k % 3], texts[k % 3], t_new, "strassenschaden",
                                  lat=lat, long=lon)
            rid = f"lat-{k}"
            rs.insert_requests([to_record(site, req, "open311", set(engine.cfg.departments),
                                          rid)])
            t0 = time.perf_counter()
            engine.run_new([rid], as_of=t_new, save=False)
            answer.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            engine.run_new([rid], as_of=t_new)
            times.append((time.perf_counter() - t0) * 1000)
        store.close()

    def stats(values: list[float]) -> dict:
        arr = np.array(values[5:])  # the first calls warm caches
        return {"n": len(arr), "p50_ms": round(float(np.percentile(arr, 50)), 1),
                "p95_ms": round(float(np.percentile(arr, 95)), 1),
                "max_ms": round(float(arr.max()), 1)}

    return {"answer": {**stats(answer), "includes": "reading the request and its neighbours "
                       "(30 days, radius) from the store, category, duplicates, priority, "
                       "department"},
            "answer_and_store": {**stats(times), "includes": "the same plus storing the "
                                 "suggestion and its audit-log entry (one transaction)"}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duplicates", default="20261,31,47",
                    help="unseen simulator seeds (comma-separated; empty: skip)")
    ap.add_argument("--latency", type=int, default=200, help="requests to time (0: skip)")
    ap.add_argument("--konstanz", default=str(KONSTANZ))
    args = ap.parse_args()
    out: dict = {"command": " ".join([Path(sys.executable).name, *sys.argv]),
                 "machine": f"{platform.machine()}, {platform.python_version()}"}
    path = Path(args.konstanz)
    if path.is_file():
        rows = konstanz_rows(path)
        train = [r for r in rows if r["year"] <= 2021]
        test = [r for r in rows if r["year"] == 2022]
        res, _ = ours(train, test)
        out["konstanz"] = {
            "data": "Stadt Konstanz, Offene Daten Konstanz, CC BY 4.0",
            "train": f"{len(train)} reports 2020-2021", "test": f"{len(test)} reports 2022",
            "main_categories": len({r['label'].split(' > ')[0] for r in rows}),
            "sub_categories": len({r["label"] for r in rows}),
            "triage_model": res, "baseline": baseline(train, test),
        }
    else:
        out["konstanz"] = f"skipped: {path} not found"
    seeds = [int(s) for s in args.duplicates.split(",") if s.strip()]
    if seeds:
        out["simulated"] = simulated(seeds)
    if args.latency:
        out["latency_one_request"] = latency(args.latency)
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
