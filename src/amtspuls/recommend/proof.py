"""Did it help? The before/after proof of a recommendation marked done.

The target metric (a rate: numerator per exposure, lower is better) is compared over
equal windows before and after the day the change went live. Seasonality and site-wide
shifts are adjusted by a control group — the same metric for everything else on the
site (other services, forms, queries) — whose before→after ratio `c` is what the target
would have done without the change. Under H0 "no effect beyond the control's shift" the
after-count, given the total count, is binomial with p = c·e₂ / (e₁ + c·e₂) (the exact
conditional test for two Poisson rates); its two-sided p-value is reported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from scipy import stats

from amtspuls.model import Site
from amtspuls.recommend.texts import number_de
from amtspuls.store import DuckDBStore
from amtspuls.store import recommendations as rq

WINDOW_DAYS = 28
MIN_AFTER_DAYS = 7
MIN_EXPOSURE = 20  # exposure units (completed forms, starts, searches) per window
SIGNIFICANCE = 0.05

LABELS_DE = {
    "searches_per_completed_form": "Suchanfragen pro abgeschlossenem Formular",
    "field_error_rate": "Fehlerquote am Feld",
    "abandonment_rate": "Abbruchquote",
    "not_found_hits": "Aufrufe der Fehlerseite je 1.000 Seitenaufrufe",
    "zero_result_rate": "Anteil der Suchen ohne Treffer",
}
SCALE = {"not_found_hits": 1000.0}


# (day, key, numerator, exposure) rows and which key is the target
Series = list[tuple[date, str, float, float]]


def _search_per_form(store: DuckDBStore, site: Site, m: dict) -> tuple[Series, Callable]:
    rows = [(r["day"], r["service_id"], float(r["num"]), float(r["den"]))
            for r in rq.daily_search_per_form(store, site.id, site.timezone)]
    return rows, lambda key: key == m["service_id"]


def _field_errors(store: DuckDBStore, site: Site, m: dict) -> tuple[Series, Callable]:
    starts: dict[tuple[date, str], float] = {}
    errors: dict[tuple[date, str], float] = defaultdict(float)
    for r in rq.daily_field_errors(store, site.id, site.timezone):
        if "|" in r["key"]:
            form, field = r["key"].split("|", 1)
            # target: the field; control: every other form's errors (all fields)
            key = r["key"] if form == m["form"] and field == m["field"] else (
                None if form == m["form"] else form)
            if key:
                errors[(r["day"], key)] += float(r["n"])
        else:
            starts[(r["day"], r["key"])] = float(r["n"])
    target = f"{m['form']}|{m['field']}"
    rows: Series = []
    for (day, form), n in starts.items():
        key = target if form == m["form"] else form
        rows.append((day, key, errors.get((day, key), 0.0), n))
    return rows, lambda key: key == target


def _abandonment(store: DuckDBStore, site: Site, m: dict) -> tuple[Series, Callable]:
    rows = [(r["day"], r["key"], float(r["num"]), float(r["den"]))
            for r in rq.daily_form_outcomes(store, site.id, site.timezone)]
    return rows, lambda key: key == m["form"]


def _not_found(store: DuckDBStore, site: Site, m: dict) -> tuple[Series, Callable]:
    views: dict[date, float] = {}
    hits: dict[date, float] = defaultdict(float)
    for r in rq.daily_not_found(store, site.id, site.timezone):
        if r["key"] == "*":
            views[r["day"]] = float(r["num"])
        elif r["key"] == m["path"]:
            hits[r["day"]] += float(r["num"])
    # no control: other dead links are not comparable
    return [(d, m["path"], hits.get(d, 0.0), v) for d, v in views.items()], \
        lambda key: key == m["path"]


def _zero_results(store: DuckDBStore, site: Site, m: dict) -> tuple[Series, Callable]:
    queries = set(m.get("queries") or [])
    rows = [(r["day"], r["key"], float(r["num"]), float(r["den"]))
            for r in rq.daily_search_queries(store, site.id, site.timezone)]
    return rows, lambda key: key in queries


SOURCES: dict[str, Callable[[DuckDBStore, Site, dict], tuple[Series, Callable]]] = {
    "searches_per_completed_form": _search_per_form,
    "field_error_rate": _field_errors,
    "abandonment_rate": _abandonment,
    "not_found_hits": _not_found,
    "zero_result_rate": _zero_results,
}


def measure(store: DuckDBStore, site: Site, metric: dict[str, Any] | None, effective: date,
            last_day: date, window_days: int = WINDOW_DAYS, about: str = "") -> dict[str, Any]:
    """The effect of a change that went live on `effective`, with data up to `last_day`;
    `about` names what was measured in the text ("für Personalausweis")."""
    if not metric or metric.get("name") not in SOURCES:
        return {"state": "not_measurable",
                "text_de": "Für diese Empfehlung gibt es keine messbare Zielgröße."}
    name = metric["name"]
    after_days = (last_day - effective).days + 1
    if after_days < MIN_AFTER_DAYS:
        return {"state": "waiting", "metric": name,
                "text_de": f"Noch zu wenig Daten nach der Umsetzung ({max(0, after_days)} "
                           f"von mindestens {MIN_AFTER_DAYS} Tagen)."}
    days = min(window_days, after_days)
    b_from, a_to = effective - timedelta(days=days), effective + timedelta(days=days - 1)
    rows, is_target = SOURCES[name](store, site, metric)
    sums = {("t", "b"): [0.0, 0.0], ("t", "a"): [0.0, 0.0], ("c", "b"): [0.0, 0.0],
            ("c", "a"): [0.0, 0.0]}
    for day, key, num, den in rows:
        if b_from <= day < effective:
            part = "b"
        elif effective <= day <= a_to:
            part = "a"
        else:
            continue
        s = sums[("t" if is_target(key) else "c", part)]
        s[0] += num
        s[1] += den
    (n1, e1), (n2, e2) = sums[("t", "b")], sums[("t", "a")]
    if min(e1, e2) < MIN_EXPOSURE:
        return {"state": "waiting", "metric": name,
                "text_de": "Noch zu wenig Daten für einen Vorher-Nachher-Vergleich."}
    (cn1, ce1), (cn2, ce2) = sums[("c", "b")], sums[("c", "a")]
    control = 1.0
    if min(ce1, ce2) >= MIN_EXPOSURE and cn1 > 0 and cn2 > 0:
        control = (cn2 / ce2) / (cn1 / ce1)
    scale = SCALE.get(name, 1.0)
    before, after = n1 / e1, n2 / e2
    adjusted = after / control
    total = int(round(n1 + n2))
    p = 1.0
    if total > 0:
        q = control * e2 / (e1 + control * e2)
        p = float(stats.binomtest(int(round(n2)), total, q).pvalue)
    change = (adjusted - before) / before if before > 0 else None
    significant = p < SIGNIFICANCE
    direction = ("improved" if adjusted < before else "worse") if significant else "unchanged"
    label = f"{LABELS_DE[name]} {about}".strip()
    p_text = "p < 0,01" if p < 0.01 else f"p = {number_de(p, 2)}"
    verdict = {"improved": "verbessert", "worse": "verschlechtert",
               "unchanged": "keine gesicherte Veränderung"}[direction]
    return {
        "state": "measured",
        "metric": name,
        "label_de": label,
        "before": round(before * scale, 4),
        "after": round(after * scale, 4),
        "after_adjusted": round(adjusted * scale, 4),
        "change": round(change, 4) if change is not None else None,
        "control_factor": round(control, 4),
        "p_value": p,
        "significant": significant,
        "direction": direction,
        "counts": {"before": [n1, e1], "after": [n2, e2]},
        "before_period": f"{b_from.isoformat()}/{(effective - timedelta(days=1)).isoformat()}",
        "after_period": f"{effective.isoformat()}/{a_to.isoformat()}",
        "text_de": f"{label}: {number_de(before * scale, 2)} → {number_de(after * scale, 2)} "
                   f"(saisonbereinigt {number_de(adjusted * scale, 2)}), {p_text} – {verdict}.",
    }
