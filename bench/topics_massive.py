"""Topic clustering against gold intents: German MASSIVE (de-DE) test and dev splits.

    .venv/bin/python bench/topics_massive.py [--data DIR] [--no-semantic] [--json]

Runs `amtspuls.analyze.topics.cluster_texts` (the clustering behind `amtspuls topics`, with
its default number of clusters k = round(sqrt(n))) on the utterances and reports the
adjusted Rand index (ARI) against the 60 intent labels; for comparison also the plain
baseline (multilingual sentence vectors + k-means with k = 60) and our clustering with
k = 60. Data: ../shared/data/realworld/german-massive-intents beside the repository
(MASSIVE, Amazon, CC BY 4.0), or --data.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from amtspuls.analyze.querymap import QueryMapper
from amtspuls.analyze.topics import cluster_texts, semantic_available, sentence_vectors

# shared/ lies beside the repository (as for tests/core).
DEFAULT_DATA = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "realworld"
                / "german-massive-intents")


def load(path: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            t, lab = line.rsplit("\t", 1)
            texts.append(t)
            labels.append(int(lab))
    return texts, labels


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--no-semantic", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    semantic = semantic_available() and not args.no_semantic
    mapper = QueryMapper()
    results = {}
    for split in ("test", "dev"):
        texts, y = load(args.data / f"massive_de_{split}.txt")
        n_labels = len(set(y))
        row: dict = {"utterances": len(texts), "intents": n_labels}
        t0 = time.perf_counter()
        c = cluster_texts(texts, mapper, semantic=semantic)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        row["k"] = c.k
        row["algorithm"] = c.algorithm
        row["features"] = c.features
        row["ari"] = round(adjusted_rand_score(y, c.labels), 4)
        row["nmi"] = round(normalized_mutual_info_score(y, c.labels), 4)
        c60 = cluster_texts(texts, mapper, semantic=semantic, k=n_labels)
        row["ari_k_intents"] = round(adjusted_rand_score(y, c60.labels), 4)
        lex = cluster_texts(texts, mapper, semantic=False)
        row["ari_lexical_only"] = round(adjusted_rand_score(y, lex.labels), 4)
        if semantic:
            vecs = sentence_vectors(texts)
            base = KMeans(n_labels, n_init=10, random_state=0).fit_predict(vecs)
            row["baseline_use_kmeans_k_intents"] = round(adjusted_rand_score(y, base), 4)
        results[split] = row
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for split, row in results.items():
            print(f"{split}: n={row['utterances']} k={row['k']} ARI={row['ari']} "
                  f"NMI={row['nmi']} (k=intents: {row['ari_k_intents']}, lexical only: "
                  f"{row['ari_lexical_only']}, baseline USE+k-means: "
                  f"{row.get('baseline_use_kmeans_k_intents', '–')}) in {row['seconds']} s "
                  f"[{row['algorithm']}; {', '.join(row['features'])}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
