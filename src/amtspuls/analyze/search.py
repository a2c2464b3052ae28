"""Site-search analytics and the query mapper of a site (with what it learned from behaviour).

- `learned_examples`: (query, service) pairs from the store: a search whose next page in
  the same session is a service page labels the query with that service, weighted by what
  the visitor did next. A query becomes a training example when the evidence agrees.
- `site_mapper`: the site's `QueryMapper` (catalogue file, lexicon, learned examples),
  cached until the site's events change.
- `search_report`: top queries, queries without results, refinements, search exits, pages
  opened after a search, the share of searches that led to a service page, and per service
  the searches per completed form. Everything shown passes k-anonymity.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from amtspuls.analyze.querymap import LearnedExample, QueryMapper
from amtspuls.catalog import NONE
from amtspuls.catalog.site import catalog_path, load_site_catalog
from amtspuls.model import Site
from amtspuls.privacy.kanon import REMAINDER_LABEL, fold_rows
from amtspuls.store import DuckDBStore
from amtspuls.store.needs import NeedsQueries

# Support of a (query, service) pair: clicks from the query to the service page, each
# counting 1 when the visitor then used the service (form, download), 0 when they searched
# again afterwards, and LEARN_PLAIN_CLICK otherwise. A query is learned when its best
# service has support ≥ LEARN_MIN_SUPPORT from ≥ LEARN_MIN_SESSIONS sessions, a share
# ≥ LEARN_MIN_PURITY of all service pages opened after the query, and ≥ LEARN_MIN_SHARE of
# all its searches. Tuned on simulator seed 11 (development), checked on held-out seeds.
LEARN_PLAIN_CLICK = 0.7
LEARN_MIN_SUPPORT = 1.0
LEARN_MIN_SESSIONS = 1
LEARN_MIN_PURITY = 0.5
LEARN_MIN_SHARE = 0.25
# Behaviour of this many days up to the last event is used.
LEARN_DAYS = 180


def learned_examples(next_service_rows: list[dict], query_rows: list[dict],
                     min_sessions: int = LEARN_MIN_SESSIONS,
                     min_purity: float = LEARN_MIN_PURITY,
                     min_share: float = LEARN_MIN_SHARE) -> list[LearnedExample]:
    """Turn (query, next service) counts into training examples (see module doc).

    A click counts in full when the visitor then used the service (form, download), not
    at all when they searched again afterwards (the page did not help), and half
    otherwise."""
    searches = {r["query"]: int(r["searches"]) for r in query_rows}
    per_query: dict[str, list[tuple[float, dict]]] = defaultdict(list)
    for r in next_service_rows:
        n = int(r["n"])
        acted = int(r.get("acted") or 0)
        again = int(r.get("searched_after") or 0)
        support = acted + LEARN_PLAIN_CLICK * max(0, n - acted - again)
        per_query[r["query"]].append((support, r))
    out = []
    for q, rows in sorted(per_query.items()):
        total = sum(int(r["n"]) for _, r in rows)
        support, best = max(rows, key=lambda sr: (sr[0], sr[1]["service_id"]))
        purity = support / max(total, 1e-9)
        share = support / max(1, searches.get(q, total))
        if (int(best["sessions"]) >= min_sessions and support >= LEARN_MIN_SUPPORT
                and purity >= min_purity and share >= min_share
                and best["service_id"] != NONE):
            out.append(LearnedExample(q, best["service_id"], int(best["n"]), min(1.0, purity)))
    return out


def extract_learned(store: DuckDBStore, site: Site, lo: datetime | None = None,
                    hi: datetime | None = None) -> list[LearnedExample]:
    """Learned (query, service) examples of a site from its stored events."""
    if hi is None or lo is None:
        q = NeedsQueries(store, site.id, datetime.min, datetime.max)
        last = store.query("SELECT max(ts) AS t FROM events WHERE site_id = $s",
                           {"s": site.id})[0]["t"]
        if last is None:
            return []
        hi = last + timedelta(seconds=1)
        lo = hi - timedelta(days=LEARN_DAYS)
    q = NeedsQueries(store, site.id, lo, hi)
    return learned_examples(q.query_next_service(), q.query_counts())


_CACHE: dict[tuple, QueryMapper] = {}
_CACHE_LOCK = threading.Lock()


def site_mapper(store: DuckDBStore, site: Site | None, learn: bool = True) -> QueryMapper:
    """The query mapper of a site: its catalogue file (URL patterns, extra words), the
    lexicon, and (with `learn`) the examples learned from its stored events. Cached until
    the site's events or catalogue file change."""
    data_dir = store.settings.data_dir
    if site is None:
        return _cached(("default",), lambda: QueryMapper())
    path = catalog_path(data_dir, site.domain)
    stamp = path.stat().st_mtime if path.is_file() else 0.0
    fp = NeedsQueries(store, site.id, datetime.min, datetime.max).fingerprint() if learn else ()
    cache_key = (str(store.path), site.id, stamp, fp, learn)

    def build() -> QueryMapper:
        cat = load_site_catalog(data_dir, site.domain)
        examples = extract_learned(store, site) if learn else []
        return QueryMapper(cat.service_list(), cat.lexicon(), examples)

    return _cached(cache_key, build)


def _cached(cache_key: tuple, build) -> QueryMapper:
    with _CACHE_LOCK:
        hit = _CACHE.get(cache_key)
    if hit is not None:
        return hit
    mapper = build()
    with _CACHE_LOCK:
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[cache_key] = mapper
    return mapper


def shown_rows(rows: list[dict], k: int, label: str, counts: tuple[str, ...],
               limit: int) -> list[dict]:
    """Rows of at least k visitors (the first `limit`), then the remainder row that folds
    the smaller ones (k-anonymity)."""
    folded = fold_rows(rows, k, label, counts)
    kept = [r for r in folded if r.get(label) != REMAINDER_LABEL]
    rest = [r for r in folded if r.get(label) == REMAINDER_LABEL]
    return kept[:limit] + rest


def _rate(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def spcf_rows(rows: list[dict], names: dict[str, str]) -> list[dict]:
    """Searches per completed form, per service (rows of `searches_per_completed_form`)."""
    out = []
    for r in rows:
        submits = int(r["form_submits"])
        out.append({
            "service_id": r["service_id"],
            "name": names.get(r["service_id"], r["service_id"]),
            "form_submits": submits,
            "searches": int(r["searches"]),
            "searches_per_completed_form": round(int(r["searches"]) / submits, 4)
            if submits else None,
            "visitors": int(r["visitors"]),
        })
    return out


def search_report(store: DuckDBStore, site: Site, lo: datetime, hi: datetime,
                  date_from: date | None = None, date_to: date | None = None, k: int = 5,
                  limit: int = 100, **_: Any) -> dict[str, Any]:
    q = NeedsQueries(store, site.id, lo, hi)
    mapper = site_mapper(store, site)
    names = {sid: s.name_de for sid, s in mapper.services.items()}
    summary = q.search_summary()
    n = summary["searches"]
    queries = q.queries()
    mapped = {r["query"]: mapper.map(r["query"])["service_id"] for r in queries
              if int(r["visitors"]) >= k}

    def with_service(rows: list[dict]) -> list[dict]:
        for r in rows:
            if r.get("query") in mapped:
                r["service_id"] = mapped[r["query"]]
        return rows

    top = [
        {"query": r["query"], "searches": int(r["searches"]), "visitors": int(r["visitors"]),
         "no_results": int(r["no_results"]), "exits": int(r["exits"]),
         "refinements": int(r["refinements"]), "to_service": int(r["to_service"]),
         "service_page_share": _rate(int(r["to_service"]), int(r["searches"]))}
        for r in queries
    ]
    no_results = [
        {"query": r["query"], "searches": int(r["no_results"]), "visitors": int(r["visitors"])}
        for r in queries if int(r["no_results"])
    ]
    no_results.sort(key=lambda r: (-r["searches"], r["query"]))
    exits = [
        {"query": r["query"], "exits": int(r["exits"]), "searches": int(r["searches"]),
         "exit_rate": _rate(int(r["exits"]), int(r["searches"])), "visitors": int(r["visitors"])}
        for r in queries if int(r["exits"])
    ]
    exits.sort(key=lambda r: (-r["exits"], r["query"]))
    refinements = [
        {"query": r["query"], "next_query": r["next_query"], "n": int(r["n"]),
         "visitors": int(r["visitors"])}
        for r in q.refinements()
    ]
    pages = [
        {"path": r["path"], "service_id": r["service_id"] or NONE, "n": int(r["n"]),
         "share": _rate(int(r["n"]), n), "visitors": int(r["visitors"])}
        for r in q.pages_after_search()
    ]
    spcf = spcf_rows(q.searches_per_completed_form(), names)

    def shown(rows: list[dict], label: str, counts: tuple[str, ...]) -> list[dict]:
        return shown_rows(rows, k, label, counts, limit)

    return {
        "site": site.domain,
        "from": date_from.isoformat() if date_from else None,
        "to": date_to.isoformat() if date_to else None,
        "k_anonymity": k,
        "summary": {
            **summary,
            "no_result_rate": _rate(summary["no_results"], n),
            "exit_rate": _rate(summary["exits"], n),
            "refinement_rate": _rate(summary["refinements"], n),
            "service_page_share": _rate(summary["to_service"], n),
        },
        "top_queries": with_service(shown(top, "query", ("searches", "no_results", "exits",
                                                          "refinements", "to_service"))),
        "no_results": with_service(shown(no_results, "query", ("searches",))),
        "refinements": shown(refinements, "query", ("n",)),
        "exits": with_service(shown(exits, "query", ("exits", "searches"))),
        "pages_after_search": shown(pages, "path", ("n",)),
        "searches_per_completed_form": shown(spcf, "service_id", ("form_submits", "searches")),
    }
