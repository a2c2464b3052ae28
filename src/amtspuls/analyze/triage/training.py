"""Training a site's category model from its own history, and its model card.

Labels are what people decided, never the model's own suggestions: a clerk's review
(confirmation or correction) first, else the service the citizen chose. The catalogue's
keywords are always added, so that services without history stay known. The card
states the data, the date, the method, a time-split evaluation (the latest 20 % of the
labelled requests held out) and how often clerks agreed with the suggestions since."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import numpy as np

from amtspuls.analyze.triage.category import CategoryModel, Doc, keyword_docs
from amtspuls.analyze.triage.config import config_for
from amtspuls.analyze.triage.engine import current_model, models_dir
from amtspuls.errors import UserError
from amtspuls.model import Site
from amtspuls.store.requests_store import RequestStore

HOLDOUT = 0.2
MIN_FOR_EVALUATION = 30


def labelled(rows: list[dict], catalogue: set[str]) -> list[tuple[Doc, str, str, datetime]]:
    out = []
    for r in rows:
        label, source = None, None
        if r.get("review_service_id"):
            label, source = r["review_service_id"], "review"
        elif r.get("service_code") in catalogue:
            label, source = r["service_code"], "citizen"
        if label and (r.get("description") or "").strip():
            out.append((Doc(r["description"], r.get("lat"), r.get("long")), label, source,
                        r["requested_datetime"]))
    return out


def metrics(model: CategoryModel, docs: list[Doc], labels: list[str]) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    p = model.predict_proba(docs)
    cls = np.array(model.classes)
    pred = cls[p.argmax(axis=1)]
    top3 = np.argsort(-p, axis=1)[:, :3]
    y = np.array(labels)
    in3 = [y[i] in set(cls[top3[i]]) for i in range(len(y))]
    return {"n_test": len(y), "accuracy": round(float((pred == y).mean()), 4),
            "macro_f1": round(float(f1_score(y, pred, average="macro", zero_division=0)), 4),
            "top3_accuracy": round(float(np.mean(in3)), 4)}


def train_site(store, site: Site, settings) -> dict[str, Any]:
    cfg = config_for(settings)
    rs = RequestStore(store)
    rows = rs.analysis_rows(site.id)
    data = labelled(rows, set(cfg.departments))
    kdocs, klabels = keyword_docs(cfg.services)
    if not data:
        raise UserError(f"{site.domain}: no labelled requests to train on (import requests "
                        "with service codes, or review suggestions first)")
    data.sort(key=lambda d: d[3])
    evaluation: dict[str, Any] = {"holdout": "latest 20 % of the labelled requests by time"}
    if len(data) >= MIN_FOR_EVALUATION:
        cut = int(len(data) * (1 - HOLDOUT))
        train, test = data[:cut], data[cut:]
        m = CategoryModel.train([d[0] for d in train] + kdocs,
                                [d[1] for d in train] + klabels)
        evaluation.update(metrics(m, [d[0] for d in test], [d[1] for d in test]))
        evaluation["test_from"] = test[0][3].isoformat()
        evaluation["test_to"] = test[-1][3].isoformat()
    else:
        evaluation["note"] = f"fewer than {MIN_FOR_EVALUATION} labelled requests: not evaluated"
    model = CategoryModel.train([d[0] for d in data] + kdocs, [d[1] for d in data] + klabels)
    model.version = f"s{site.id}-{model.version}"
    path = models_dir(settings) / f"site-{site.id}" / f"{model.version}.pkl"
    model.save(path)
    sources = Counter(d[2] for d in data)
    card = {
        "model_version": model.version,
        "site": site.domain,
        "trained": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        "label_set": "service",
        "training_data": {
            "requests": len(data),
            "from": data[0][3].isoformat(),
            "to": data[-1][3].isoformat(),
            "labels_from_reviews": sources.get("review", 0),
            "labels_from_citizens": sources.get("citizen", 0),
            "keyword_examples": len(kdocs),
            "classes": dict(sorted(Counter(d[1] for d in data).items())),
            "text": "scrubbed (names, phone numbers, e-mail addresses, own addresses and "
                    "plates replaced by placeholders)",
        },
        "method": {
            "features": "word TF-IDF (Snowball German stems, umlauts folded) + character "
                        "2–5-gram TF-IDF + location cells (300 m, 1 km, no location)",
            "classifier": "linear SVM, class-balanced, Platt-calibrated over 3 folds "
                          "(scikit-learn CalibratedClassifierCV)",
            **{k: v for k, v in model.params.items() if k != "seconds"},
        },
        "metrics": evaluation,
        "intended_use": "Vorschlag der Kategorie, Priorität und Zuständigkeit für "
                        "Bürgermeldungen; eine Sachbearbeiterin oder ein Sachbearbeiter "
                        "bestätigt oder korrigiert jeden Vorschlag.",
        "limitations": [
            "Deutschsprachige Texte; andere Sprachen werden schlecht erkannt.",
            "Kategorien mit wenigen Beispielen werden seltener richtig vorgeschlagen.",
            "Priorität und Dubletten sind Regeln bzw. Heuristiken, keine Entscheidungen.",
        ],
        "human_oversight": "Jeder Vorschlag wird mit Eingaben und Modellversion protokolliert "
                           "(triage_log); Korrekturen fließen in das nächste Training ein.",
    }
    rs.add_model(site.id, model.version, "service", str(path.relative_to(models_dir(settings))),
                 card)
    return card


def model_card(store, site: Site, settings) -> dict[str, Any]:
    """The current model's card, with how often clerks agreed since it was trained."""
    rs = RequestStore(store)
    row = rs.latest_model(site.id)
    if row is None:
        model = current_model(store, site, settings)
        card = {
            "model_version": model.version, "site": site.domain, "trained": model.trained,
            "label_set": "service",
            "training_data": {"requests": 0, "keyword_examples": model.n_train,
                              "text": "catalogue keywords only (no history yet)"},
            "method": model.params, "metrics": {"note": "not evaluated: no history yet"},
        }
    else:
        card = row["card"]
    card["current"] = _agreement(store, site, card["model_version"])
    return card


def _agreement(store, site: Site, version: str) -> dict[str, Any]:
    rows = store.query(
        """
        SELECT v.decision, v.service_id AS decided, t.category
        FROM request_reviews v JOIN request_triage t USING (site_id, service_request_id)
        WHERE v.site_id = $site AND t.model_version = $version
        """, {"site": site.id, "version": version})
    import json

    n = len(rows)
    agree = 0
    for r in rows:
        cat = json.loads(r["category"]) if isinstance(r["category"], str) else r["category"]
        if cat and r["decided"] and cat[0]["service_id"] == r["decided"]:
            agree += 1
    return {"reviews": n, "top1_agreement": round(agree / n, 4) if n else None,
            "as_of": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")}
