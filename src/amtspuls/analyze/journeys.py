"""Services, journeys, forms and frustration: where citizens get what they came for and
where they give up. Every list passes k-anonymity (rows of fewer than k distinct visitors
are folded into one remainder row)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any

from amtspuls.analyze.search import shown_rows, site_mapper, spcf_rows
from amtspuls.catalog import NONE
from amtspuls.errors import UserError
from amtspuls.model import Site
from amtspuls.store import DuckDBStore
from amtspuls.store.needs import NeedsQueries

# Steps shown before and after the first page of a service in a journey.
STEPS_BEFORE = 3
STEPS_AFTER = 5
# A visit whose searches reach no service page after this many searches is a search loop.
LOOP_MIN_SEARCHES = 3
# Leaving a page for the one before it within this many seconds is a quick back.
QUICK_BACK_SECONDS = 10.0

ENTRY = "(Einstieg)"
END = "(Ende)"


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _window(d_from: date | None, d_to: date | None) -> dict[str, Any]:
    return {"from": d_from.isoformat() if d_from else None,
            "to": d_to.isoformat() if d_to else None}


# -- services ------------------------------------------------------------------------------
def searches_by_service(store: DuckDBStore, site: Site, q: NeedsQueries) -> Counter:
    """Search events per service, by mapping each distinct query."""
    mapper = site_mapper(store, site)
    out: Counter = Counter()
    for r in q.query_counts():
        out[mapper.service_of(r["query"])] += int(r["searches"])
    return out


def services_report(store: DuckDBStore, site: Site, lo: datetime, hi: datetime,
                    date_from: date | None = None, date_to: date | None = None, k: int = 5,
                    limit: int = 100, **_: Any) -> dict[str, Any]:
    q = NeedsQueries(store, site.id, lo, hi)
    mapper = site_mapper(store, site)
    searches = searches_by_service(store, site, q)
    spcf = {r["service_id"]: r for r in spcf_rows(q.searches_per_completed_form(), {})}
    rows = []
    for r in q.services():
        sid = r["service_id"]
        svc = mapper.services.get(sid)
        started = int(r["sessions_started"])
        rows.append({
            "service_id": sid,
            "name": svc.name_de if svc else sid,
            "department": svc.department if svc else None,
            "visits": int(r["visits"]),
            "visitors": int(r["visitors"]),
            "pageviews": int(r["pageviews"]),
            "searches": int(searches.get(sid, 0)),
            "downloads": int(r["downloads"]),
            "form_starts": int(r["form_starts"]),
            "form_submits": int(r["form_submits"]),
            "validation_errors": int(r["form_errors"]),
            "sessions_with_form": started,
            "abandonment_rate": _rate(int(r["sessions_abandoned"]), started),
            "success_rate": _rate(int(r["sessions_submitted"]), started),
            "searches_per_completed_form": spcf.get(sid, {}).get("searches_per_completed_form"),
        })
    shown = shown_rows(rows, k, "service_id", ("visits", "pageviews", "searches", "downloads",
                                               "form_starts", "form_submits",
                                               "validation_errors"), limit)
    return {"site": site.domain, **_window(date_from, date_to), "k_anonymity": k,
            "searches_without_service": int(searches.get(NONE, 0)),
            "services": shown}


# -- journeys ------------------------------------------------------------------------------
def _label(kind: str, path: str, field: str) -> str:
    if kind == "search":
        return "Suche"
    if kind == "not_found":
        return f"404 {path}"
    if kind == "form_start":
        return "Formular begonnen"
    if kind == "form_error":
        return f"Fehler im Feld {field}" if field else "Formularfehler"
    if kind == "form_submit":
        return "Formular abgeschickt"
    if kind == "download":
        return f"Download {path}"
    return path


def _collapse(labels: list[str]) -> list[str]:
    out: list[str] = []
    for x in labels:
        if not out or out[-1] != x:
            out.append(x)
    return out


def journeys_report(store: DuckDBStore, site: Site, lo: datetime, hi: datetime,
                    date_from: date | None = None, date_to: date | None = None, k: int = 5,
                    limit: int = 100, service: str | None = None, **_: Any) -> dict[str, Any]:
    if not service:
        raise UserError("report journeys needs --service ID (a service id of the catalogue)")
    mapper = site_mapper(store, site, learn=False)
    if service not in mapper.services:
        raise UserError(f"unknown service {service!r}")
    q = NeedsQueries(store, site.id, lo, hi)
    to_paths: dict[tuple, set] = defaultdict(set)
    to_counts: Counter = Counter()
    through: dict[tuple, set] = defaultdict(set)
    through_counts: Counter = Counter()
    give_up: dict[str, set] = defaultdict(set)
    give_up_counts: Counter = Counter()
    funnel = Counter()
    funnel_visitors: dict[str, set] = defaultdict(set)
    for s in q.service_sessions(service):
        types, paths, services, fields = s["types"], s["paths"], s["services"], s["fields"]
        first = next((i for i, (t, sv) in enumerate(zip(types, services, strict=True))
                      if t == "pageview" and sv == service), None)
        if first is None:
            continue
        vid = s["visitor_id"]
        funnel["visits"] += 1
        funnel_visitors["visits"].add(vid)
        pages_before = [_label(t, p, "") for t, p in zip(types[:first], paths[:first], strict=True)
                        if t in ("pageview", "search", "not_found")]
        before = _collapse(pages_before)[-STEPS_BEFORE:]
        if len(_collapse(pages_before)) <= STEPS_BEFORE:
            before = [ENTRY, *before]
        seq_to = (*before, paths[first])
        to_paths[seq_to].add(vid)
        to_counts[seq_to] += 1
        after = _collapse([_label(t, p, f) for t, p, f in
                           zip(types[first:], paths[first:], fields[first:], strict=True)])
        seq_through = tuple(after[:STEPS_AFTER + 1]) + ((END,) if len(after) <= STEPS_AFTER + 1
                                                        else ())
        through[seq_through].add(vid)
        through_counts[seq_through] += 1
        rest = list(zip(types[first:], services[first:], strict=True))
        started = any(t == "form_start" and sv == service for t, sv in rest)
        submitted = any(t == "form_submit" and sv == service for t, sv in rest)
        if started:
            funnel["form_started"] += 1
            funnel_visitors["form_started"].add(vid)
        if submitted:
            funnel["form_submitted"] += 1
            funnel_visitors["form_submitted"].add(vid)
        else:
            last = after[-1]
            give_up[last].add(vid)
            give_up_counts[last] += 1

    def rows(counts: Counter, visitors: dict, label: str) -> list[dict]:
        out = [{label: " → ".join(seq) if isinstance(seq, tuple) else seq, "sessions": n,
                "visitors": len(visitors[seq])} for seq, n in counts.items()]
        out.sort(key=lambda r: (-r["sessions"], r[label]))
        return shown_rows(out, k, label, ("sessions",), limit)

    visits = funnel["visits"]
    steps = [
        {"step": name, "label": label, "sessions": funnel[name],
         "share": _rate(funnel[name], visits)}
        for name, label in (("visits", "Leistungsseite besucht"),
                            ("form_started", "Formular begonnen"),
                            ("form_submitted", "Formular abgeschickt"))
    ]
    for st in steps:
        if len(funnel_visitors[st["step"]]) < k and st["sessions"]:
            st["sessions"], st["share"] = None, None
    return {
        "site": site.domain, **_window(date_from, date_to), "k_anonymity": k,
        "service_id": service, "name": mapper.services[service].name_de,
        "funnel": steps,
        "paths_to": rows(to_counts, to_paths, "path"),
        "paths_through": rows(through_counts, through, "path"),
        "give_up": rows(give_up_counts, give_up, "last_step"),
    }


# -- forms ---------------------------------------------------------------------------------
def forms_report(store: DuckDBStore, site: Site, lo: datetime, hi: datetime,
                 date_from: date | None = None, date_to: date | None = None, k: int = 5,
                 limit: int = 100, **_: Any) -> dict[str, Any]:
    q = NeedsQueries(store, site.id, lo, hi)
    started_by_form: dict[str, int] = {}
    forms = []
    for r in q.forms():
        started = int(r["sessions_started"]) or int(r["sessions"])
        started_by_form[r["form"]] = started
        forms.append({
            "form": r["form"], "service_id": r["service_id"] or NONE,
            "starts": int(r["starts"]), "submits": int(r["submits"]),
            "errors": int(r["errors"]), "sessions": int(r["sessions"]),
            "visitors": int(r["visitors"]),
            "error_rate": _rate(int(r["sessions_with_error"]), started),
            "errors_per_start": _rate(int(r["errors"]), int(r["starts"])),
            "abandonment_rate": _rate(int(r["sessions_abandoned"]), started),
            "abandoned_after_error": int(r["abandoned_after_error"]),
            "success_rate": _rate(int(r["sessions_submitted"]), started),
        })
    fields = [
        {"form": r["form"], "field": r["field"], "errors": int(r["errors"]),
         "sessions": int(r["sessions"]), "visitors": int(r["visitors"]),
         "error_rate": _rate(int(r["sessions"]), started_by_form.get(r["form"], 0))}
        for r in q.form_fields()
    ]
    fields.sort(key=lambda r: (-(r["error_rate"] or 0), -r["errors"], r["form"], r["field"]))
    forms.sort(key=lambda r: (-(r["error_rate"] or 0), r["form"]))
    return {
        "site": site.domain, **_window(date_from, date_to), "k_anonymity": k,
        "forms": shown_rows(forms, k, "form", ("starts", "submits", "errors", "sessions"), limit),
        "fields": shown_rows(fields, k, "field", ("errors", "sessions"), limit),
    }


# -- frustration ---------------------------------------------------------------------------
def frustration_report(store: DuckDBStore, site: Site, lo: datetime, hi: datetime,
                       date_from: date | None = None, date_to: date | None = None, k: int = 5,
                       limit: int = 100, **_: Any) -> dict[str, Any]:
    q = NeedsQueries(store, site.id, lo, hi)
    rage = [{"path": r["path"], "service_id": r["service_id"] or NONE,
             "rage_clicks": int(r["rage_clicks"]), "sessions": int(r["sessions"]),
             "visitors": int(r["visitors"])} for r in q.rage_clicks()]
    views = q.pageviews_by_path()
    backs = [{"path": r["path"], "service_id": r["service_id"] or NONE,
              "quick_backs": int(r["quick_backs"]),
              "rate": _rate(int(r["quick_backs"]), views.get(r["path"], 0)),
              "visitors": int(r["visitors"])} for r in q.quick_backs(QUICK_BACK_SECONDS)]
    sessions = q.search_sessions()
    loops = [s for s in sessions
             if int(s["searches"]) >= LOOP_MIN_SEARCHES and not s["found_service"]]
    loop_queries: Counter = Counter()
    loop_visitors: dict[str, set] = defaultdict(set)
    for s in loops:
        loop_queries[s["first_query"]] += 1
        loop_visitors[s["first_query"]].add(s["visitor_id"])
    loop_rows = [{"query": qy, "sessions": n, "visitors": len(loop_visitors[qy])}
                 for qy, n in loop_queries.items()]
    loop_rows.sort(key=lambda r: (-r["sessions"], r["query"]))
    refs: dict[str, list[dict]] = defaultdict(list)
    for r in q.not_found_referrers():
        refs[r["path"]].append({"referrer_path": r["referrer_path"], "hits": int(r["hits"])})
    not_found = [{"path": r["path"], "hits": int(r["hits"]), "visitors": int(r["visitors"]),
                  "internal_hits": int(r["internal_hits"]), "referrers": refs[r["path"]][:20]}
                 for r in q.not_found()]
    loop_visitor_total = len({s["visitor_id"] for s in loops})
    return {
        "site": site.domain, **_window(date_from, date_to), "k_anonymity": k,
        "summary": {
            "rage_clicks": sum(r["rage_clicks"] for r in rage),
            "quick_backs": sum(r["quick_backs"] for r in backs),
            "search_sessions": len(sessions),
            "search_loops": len(loops) if loop_visitor_total >= k or not loops else None,
            "search_loop_share": (_rate(len(loops), len(sessions))
                                  if loop_visitor_total >= k or not loops else None),
            "not_found_hits": sum(r["hits"] for r in not_found),
        },
        "rage_clicks": shown_rows(rage, k, "path", ("rage_clicks", "sessions"), limit),
        "search_loops": shown_rows(loop_rows, k, "query", ("sessions",), limit),
        "quick_backs": shown_rows(backs, k, "path", ("quick_backs",), limit),
        "not_found": shown_rows(not_found, k, "path", ("hits", "internal_hits"), limit),
    }
