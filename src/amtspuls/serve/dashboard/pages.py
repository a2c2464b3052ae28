"""The dashboard's pages, built from the analysis functions (the same ones the CLI and the
REST API call; nothing is computed here that an analysis already answers).

Each builder takes a `PageContext` and returns a `Page` of sections; the CSV export and
the HTML page read the same tables, so both show the same figures, after k-anonymity.
A capability whose module is not installed shows a notice instead of its figures."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from amtspuls.analyze.reports import run_report, utc_window
from amtspuls.catalog import by_id
from amtspuls.errors import UserError
from amtspuls.privacy.kanon import REMAINDER_LABEL, fold_rows
from amtspuls.serve.dashboard.charts import MapPoint, Series, bar_chart, line_chart, point_map
from amtspuls.serve.dashboard.context import PageContext
from amtspuls.serve.dashboard.model import (
    Action,
    Col,
    Input,
    Kpi,
    Page,
    Part,
    Rich,
    Section,
    Table,
    fmt_number,
)
from amtspuls.store.realtime import recent_activity
from amtspuls.store.signals import daily_service_demand, list_alerts

LIVE_TOP = 10


def optional(module: str) -> Any | None:
    """A module another part of amtspuls provides, or None while it is not there."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise


def _report(ctx: PageContext, name: str, d_from: date | None = None, d_to: date | None = None,
            interval: str = "day", limit: int = 100) -> Any:
    return run_report(ctx.store, ctx.site, name, d_from or ctx.date_from, d_to or ctx.date_to,
                      interval, ctx.k, limit)


def _names() -> dict[str, str]:
    return {sid: s.name_de for sid, s in by_id().items()}


def _days(d_from: date, d_to: date) -> list[date]:
    return [d_from + timedelta(days=i) for i in range((d_to - d_from).days + 1)]


def _change(cur: float | None, old: float | None) -> float | None:
    if cur is None or not old:
        return None
    return round((float(cur) - float(old)) / float(old), 4)


# -- Übersicht ---------------------------------------------------------------------------

KPIS = (("visitors", "Besucher", "int"), ("visits", "Besuche", "int"),
        ("pageviews", "Seitenaufrufe", "int"), ("searches", "Suchen", "int"),
        ("downloads", "Downloads", "int"), ("not_found", "Nicht gefunden (404)", "int"),
        ("bounce_rate", "Absprungrate", "pct"), ("avg_visit_seconds", "Ø Besuchsdauer (s)",
                                                 "float"),
        ("actions_per_visit", "Aktionen je Besuch", "float"))


def live_data(ctx_store: Any, site_id: int, k: int) -> dict[str, Any]:
    """What `/api/v1/realtime` answers (the same query and the same folding)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    data = recent_activity(ctx_store, site_id, now)

    def top(rows: list[dict]) -> list[dict]:
        named = [r for r in rows if "folded_rows" not in r]
        rest = [r for r in rows if "folded_rows" in r]
        return named[:LIVE_TOP] + rest

    return {
        "visitors_5min": data["visitors_5min"],
        "visitors_30min": data["visitors_30min"],
        "top_pages": top(fold_rows(data["pages"], k, "path", ("pageviews",))),
        "top_searches": top(fold_rows(data["searches"], k, "query", ("searches",))),
    }


def live_section(ctx: PageContext) -> Section:
    t = ctx.t
    data = live_data(ctx.store, ctx.site.id, ctx.k)
    return Section(
        "live", t("Jetzt live"), live=True,
        kpis=[Kpi("visitors_5min", t("Besucher (letzte 5 Minuten)"), data["visitors_5min"]),
              Kpi("visitors_30min", t("Besucher (letzte 30 Minuten)"), data["visitors_30min"])],
        tables=[
            Table("live-pages", t("Meistgelesene Seiten (30 Minuten)"),
                  [Col("path", t("Seite"), "code"), Col("pageviews", t("Seitenaufrufe"), "int"),
                   Col("visitors", t("Besucher"), "int")], data["top_pages"]),
            Table("live-searches", t("Suchanfragen (30 Minuten)"),
                  [Col("query", t("Suchbegriff")), Col("searches", t("Suchen"), "int"),
                   Col("visitors", t("Besucher"), "int")], data["top_searches"]),
        ],
        text=t("wird live aktualisiert"),
    )


def today_vs_usual(ctx: PageContext) -> Section:
    t = ctx.t
    tz = ZoneInfo(ctx.site.timezone)
    now = datetime.now(tz)
    today = now.date()
    hour = now.hour
    cur = _report(ctx, "timeseries", today, today, "hour")
    back = _report(ctx, "timeseries", today - timedelta(days=28), today - timedelta(days=7),
                   "hour")
    same = {(today - timedelta(days=7 * w)).isoformat() for w in range(1, 5)}
    usual = [0.0] * 24
    for r in back:
        day, hh = r["period"][:10], int(r["period"][11:13])
        if day in same:
            usual[hh] += r["visits"] / 4
    today_h = [0.0] * 24
    for r in cur:
        today_h[int(r["period"][11:13])] = float(r["visits"])
    so_far = int(sum(today_h[: hour + 1]))
    usual_so_far = round(sum(usual[: hour + 1]), 1)
    hours = [f"{h:02d}" for h in range(24)]
    chart = line_chart(
        t("Heute im Vergleich zum Üblichen"), hours,
        [Series(t("Besuche"), [v if h <= hour else None for h, v in enumerate(today_h)]),
         Series(t("Mittel der letzten 4 gleichen Wochentage"), usual, "compare")],
        description=f"{t('Besuche heute bis')} {hour:02d}:59: {so_far}; "
                    f"{t('üblich bis zu dieser Stunde')}: {usual_so_far}")
    rows = [{"hour": hours[h], "today": int(today_h[h]) if h <= hour else None,
             "usual": round(usual[h], 1)} for h in range(24)]
    return Section(
        "heute", t("Heute im Vergleich zum Üblichen"),
        kpis=[Kpi("today_visits", f"{t('Besuche heute bis')} {hour:02d}:59", so_far,
                  compare=usual_so_far, hint=t("Mittel der letzten 4 gleichen Wochentage"))],
        chart=chart,
        chart_table=Table("heute", t("Heute im Vergleich zum Üblichen"),
                          [Col("hour", t("Stunde")), Col("today", t("Besuche"), "int"),
                           Col("usual", t("Mittel der letzten 4 gleichen Wochentage"),
                               "float")], rows),
    )


def overview_kpis(ctx: PageContext) -> Section:
    t = ctx.t
    cur = _report(ctx, "overview")
    old = (_report(ctx, "overview", ctx.cmp_from, ctx.cmp_to)
           if ctx.cmp_from and ctx.cmp_to else None)
    kpis = [Kpi(key, t(label), cur[key], kind, old[key] if old else None)
            for key, label, kind in KPIS]
    series = _report(ctx, "timeseries")
    by_day = {r["period"][:10]: r for r in series}
    days = _days(ctx.date_from, ctx.date_to)
    values = [by_day.get(d.isoformat(), {}).get("visits", 0) for d in days]
    lines = [Series(t("Besuche"), values)]
    rows = [{"day": d.isoformat(), "visits": v} for d, v in zip(days, values, strict=True)]
    cols = [Col("day", t("Tag"), "date"), Col("visits", t("Besuche"), "int")]
    if ctx.cmp_from and ctx.cmp_to:
        old_series = {r["period"][:10]: r for r in _report(ctx, "timeseries", ctx.cmp_from,
                                                           ctx.cmp_to)}
        cmp_days = _days(ctx.cmp_from, ctx.cmp_to)
        old_values = [old_series.get(d.isoformat(), {}).get("visits", 0) for d in cmp_days]
        lines.append(Series(t("Vergleichszeitraum"), old_values[: len(days)], "compare"))
        for row, d, v in zip(rows, cmp_days, old_values, strict=False):
            row["compare_day"] = d.isoformat()
            row["compare_visits"] = v
        cols += [Col("compare_day", t("Vergleichszeitraum"), "date"),
                 Col("compare_visits", t("Besuche im Vergleichszeitraum"), "int")]
    chart = line_chart(t("Besuche je Tag"), [d.strftime("%d.%m.") for d in days], lines,
                       description=f"{t('Besuche je Tag')} {ctx.date_from} – {ctx.date_to}: "
                                   f"{sum(values)}")
    return Section("kennzahlen", t("Kennzahlen"), kpis=kpis, chart=chart,
                   chart_table=Table("besuche-je-tag", t("Besuche je Tag"), cols, rows))


def alerts_rows(ctx: PageContext, limit: int = 100, open_only: bool = False) -> list[dict]:
    lo, hi = utc_window(ctx.site, ctx.date_from, ctx.date_to)
    rows = list_alerts(ctx.store, ctx.site.id, since=lo, limit=limit * 4)
    out = []
    names = _names()
    for a in rows:
        if a["start_ts"] >= hi:
            continue
        if open_only and a["status"] not in ("open", "active", "ongoing"):
            continue
        ev = a.get("evidence") or {}
        out.append({
            "id": a["id"], "detected": a["detected_ts"], "start": a["start_ts"],
            "end": a["end_ts"], "signal": a["signal"],
            "service": names.get(a["service_id"], a["service_id"]),
            "direction": a["direction"], "observed": a["observed"],
            "expected": round(float(a["expected"]), 1), "severity": a["severity"],
            "status": a["status"], "message": ev.get("message_de") or "",
        })
    return out[:limit]


def alert_cols(t: Callable[[str], str]) -> list[Col]:
    return [Col("detected", t("erkannt"), "datetime"), Col("service", t("Leistung")),
            Col("signal", t("Signal"), "code"), Col("direction", t("Richtung")),
            Col("observed", t("beobachtet"), "float"), Col("expected", t("erwartet"), "float"),
            Col("severity", t("Schwere")), Col("status", t("Status")),
            Col("message", t("Meldung"))]


# -- recommendations (shared by the overview and the Empfehlungen page) -------------------

REC_STATUSES: tuple[tuple[str, str], ...] = (
    ("open", "offen"), ("accepted", "angenommen"), ("done", "erledigt"),
    ("dismissed", "verworfen"))
# evidence metrics of the recommendation rules (and the alert signals of demand spikes)
REC_METRICS: dict[str, str] = {
    "abandonment_rate": "Abbruchquote",
    "duplicate_requests": "Mehrfachmeldungen",
    "field_error_rate": "Fehlerquote am Feld",
    "forecast_visits_week": "Prognose Besuche je Woche",
    "mobile_success_rate": "Erfolgsquote auf Mobilgeräten",
    "not_found_hits": "Aufrufe der Fehlerseite",
    "pdf_downloads": "PDF-Downloads",
    "searches_last_week": "Suchen in der letzten Woche",
    "searches_per_completed_form": "Suchen je abgeschicktem Formular",
    "visits_per_week": "Besuche je Woche",
    "zero_result_searches": "Suchen ohne Treffer",
    "visits": "Besuche",
    "pageviews": "Seitenaufrufe",
    "searches": "Suchen",
    "zero_results": "Suchen ohne Treffer",
    "form_starts": "Formulare begonnen",
    "form_submits": "Formulare abgeschickt",
    "validation_errors": "Formularfehler",
    "submit_errors": "Fehler beim Absenden",
    "not_found": "Nicht gefunden (404)",
    "requests": "Anliegen",
}
REC_RATES = ("abandonment_rate", "field_error_rate", "mobile_success_rate")


def top_recommendations(ctx: PageContext, limit: int = 5) -> list[dict]:
    """The highest ranked open and accepted recommendations (stored, not recomputed)."""
    from amtspuls.recommend import engine

    rows = engine.list_recommendations(ctx.store, ctx.site)
    return [r for r in rows if r["status"] in ("open", "accepted")][:limit]


def _figure(value: Any, metric: str, lang: str) -> str:
    if metric in REC_RATES:
        return fmt_number(value, "pct", lang)
    return fmt_number(value, "num", lang)


def _period(value: Any) -> str:
    """"2026-10-29/2026-11-25" or ISO instants ("…T00:42:00Z/…") as a readable range."""
    ends = [str(p) for p in str(value or "").split("/") if p]
    shown = [e[:16].replace("T", " ") + " UTC" if "T" in e else e for e in ends]
    return " – ".join(shown)


def rec_evidence(ev: Any, t: Callable[..., str], lang: str) -> str:
    """The evidence of a recommendation as one line each: metric, value against its
    baseline, period, examples (the examples are k-anonymous: the engine keeps only
    those of at least k)."""
    if not isinstance(ev, list):
        return _evidence_text(ev)
    quote = ("„", "“") if lang == "de" else ("“", "”")
    lines = []
    for e in ev:
        if not isinstance(e, dict):
            lines.append(_evidence_text(e))
            continue
        metric = str(e.get("metric") or "")
        text = f"{t(REC_METRICS.get(metric, metric))}: {_figure(e.get('value'), metric, lang)}"
        if e.get("baseline") is not None:
            text += f" ({t('üblich')}: {_figure(e['baseline'], metric, lang)})"
        if e.get("period"):
            text += f"; {_period(e['period'])}"
        examples = [x for x in e.get("examples") or [] if isinstance(x, dict)]
        if examples:
            text += f"; {t('Beispiele')}: " + ", ".join(
                f"{quote[0]}{x.get('text')}{quote[1]} ({fmt_number(x.get('count'), 'int', lang)})"
                for x in examples[:5])
        lines.append(text)
    return " · ".join(lines)


def _rec_text(r: dict, t: Callable[..., str], lang: str) -> Rich:
    """Title and action (the deterministic text, in English where the UI is), and the
    generated wording beside it, marked as such."""
    if lang == "en" and r.get("title_en"):
        parts = [Part(r["title_en"], cls="title"), Part(r.get("action_en") or "")]
    else:
        other = "de" if lang != "de" else ""
        parts = [Part(r["title"], cls="title", lang=other), Part(r["action"], lang=other)]
    wording = r.get("wording") or {}
    if wording.get("title") or wording.get("action"):
        label = t("KI-formuliert") + (f" ({wording['model']})" if wording.get("model") else "")
        text = " – ".join(x for x in (wording.get("title"), wording.get("action")) if x)
        parts.append(Part(text, label=label, cls="generated",
                          lang="de" if lang != "de" else ""))
    return Rich(parts)


def _rec_impact(impact: dict, t: Callable[..., str], lang: str) -> str:
    """Affected visits (and service requests, where any) per week."""
    visits = impact.get("affected_visits_per_week") or 0
    text = f"{fmt_number(visits, 'num', lang)} {t('Besuche')}"
    requests = impact.get("affected_requests_per_week") or 0
    if requests:
        text += f", {fmt_number(requests, 'num', lang)} {t('Anliegen')}"
    return text


def _rec_outcome(r: dict, t: Callable[..., str]) -> str:
    if r["status"] == "done":
        effect = r.get("effect") or {}
        head = f"{t('umgesetzt am')} {r['effective']}" if r.get("effective") else t("erledigt")
        return f"{head}: {effect['text_de']}" if effect.get("text_de") else head
    if r["status"] == "dismissed" and r.get("reason"):
        return f"{t('Grund')}: {r['reason']}"
    return ""


def rec_rows(ctx: PageContext, recs: list[dict]) -> list[dict]:
    t, lang = ctx.t, ctx.lang
    names = _names()
    labels = dict(REC_STATUSES)
    out = []
    for rank, r in enumerate(recs, 1):
        impact = r.get("impact") or {}
        sid = r.get("service_id")
        out.append({
            "rank": rank, "id": r["id"], "kind": t(r.get("kind_label") or r["kind"]),
            "service": names.get(sid or "", None if sid in (None, "", "none") else sid),
            "recommendation": _rec_text(r, t, lang),
            "evidence": rec_evidence(r.get("evidence"), t, lang),
            "impact": _rec_impact(impact, t, lang),
            "confidence": r.get("confidence"),
            "status": t(labels.get(r["status"], r["status"])),
            "outcome": _rec_outcome(r, t),
            # not shown as columns: what the buttons need
            "status_code": r["status"], "title": r["title"],
        })
    return out


def rec_table(ctx: PageContext, rows: list[dict], table_id: str, actions: bool,
              title: str = "Handlungsempfehlungen") -> Table:
    t = ctx.t

    def buttons(row: dict) -> list[Action]:
        if not ctx.can("analyst"):
            return []
        base = f"/dashboard/empfehlungen/{row['id']}"
        status, hint = row["status_code"], row["title"]
        out = []
        if status == "open":
            out.append(Action(t("annehmen"), base, {"action": "accepted"}, hint=hint))
        if status in ("open", "accepted"):
            out.append(Action(t("erledigt"), base, {"action": "done"}, hint=hint,
                              inputs=[Input("effective", t("umgesetzt am"), "date")]))
            out.append(Action(t("verwerfen"), base, {"action": "dismissed"}, danger=True,
                              hint=hint, inputs=[Input("reason", t("Grund (Pflichtangabe)"),
                                                       maxlength=500, required=True)]))
        if status != "open":
            out.append(Action(t("wieder öffnen"), base, {"action": "open"}, hint=hint))
        return out

    return Table(table_id, t(title),
                 [Col("rank", t("Rang"), "int"), Col("kind", t("Art")),
                  Col("service", t("Leistung")), Col("recommendation", t("Empfehlung"), "rich"),
                  Col("evidence", t("Begründung")),
                  Col("impact", t("Wirkung/Woche")),
                  Col("confidence", t("Konfidenz"), "pct"), Col("status", t("Status")),
                  Col("outcome", t("Ergebnis")), Col("id", "ID", "code")], rows,
                 actions=buttons if actions else None)


def _evidence_text(ev: Any) -> str:
    if isinstance(ev, list):
        return "; ".join(_evidence_text(e) for e in ev[:5])
    if isinstance(ev, dict):
        return str(ev.get("text") or ev.get("summary") or ", ".join(
            f"{k}: {v}" for k, v in list(ev.items())[:5]))
    return "" if ev is None else str(ev)


def overview(ctx: PageContext) -> Page:
    t = ctx.t
    page = Page("uebersicht", t("Übersicht"))
    page.sections.append(live_section(ctx))
    page.sections.append(today_vs_usual(ctx))
    page.sections.append(overview_kpis(ctx))
    alerts = alerts_rows(ctx, limit=5, open_only=True)
    page.sections.append(Section("warnungen", t("Offene Warnungen"), tables=[
        Table("offene-warnungen", t("Offene Warnungen"), alert_cols(t), alerts)]))
    page.sections.append(Section("empfehlungen", t("Wichtigste Empfehlungen"), tables=[
        rec_table(ctx, rec_rows(ctx, top_recommendations(ctx, 5)), "top-empfehlungen",
                  actions=False, title="Wichtigste Empfehlungen")]))
    pages = _report(ctx, "pages", limit=10)
    page.sections.append(Section("seiten", t("Meistbesuchte Seiten"), tables=[
        Table("seiten", t("Meistbesuchte Seiten"),
              [Col("path", t("Seite"), "code"), Col("pageviews", t("Seitenaufrufe"), "int"),
               Col("visitors", t("Besucher"), "int")], pages)]))
    refs = _report(ctx, "referrers", limit=10)
    page.sections.append(Section("herkunft", t("Herkunft"), tables=[
        Table("herkunft", t("Verweise"),
              [Col("referrer_class", t("Art")), Col("source", t("Quelle")),
               Col("visits", t("Besuche"), "int"), Col("visitors", t("Besucher"), "int")],
              refs)]))
    return page


# -- Leistungen --------------------------------------------------------------------------

_FORECASTS: dict[tuple, tuple[float, Any]] = {}
_FORECAST_LOCK = threading.Lock()
FORECAST_TTL = 900.0


def cached_forecast(ctx: PageContext, horizon: int = 28) -> dict[str, Any] | str:
    """The site's forecast (cached for a while: the model fits take seconds), or the
    reason there is none."""
    mod = optional("amtspuls.analyze.forecast")
    if mod is None:
        return ctx.t("Dieses Modul ist in dieser Installation noch nicht verfügbar.")
    key = (str(ctx.store.path), ctx.site.id, horizon)
    with _FORECAST_LOCK:
        hit = _FORECASTS.get(key)
        if hit and time.monotonic() - hit[0] < FORECAST_TTL:
            return hit[1]
        try:
            result: Any = mod.forecast_site(ctx.store, ctx.site, horizon=horizon)
        except UserError as exc:
            result = f"{ctx.t('Noch zu wenige Daten.')} ({exc})"
        _FORECASTS[key] = (time.monotonic(), result)
        return result


def service_rows(store: Any, site: Any, k: int, d_from: date, d_to: date) -> list[dict]:
    """Per service: visits, visitors, forms (the `services` report, k-anonymous)."""
    data = run_report(store, site, "services", d_from, d_to, "day", k, 1000)
    rows = [dict(r) for r in data["services"]]
    for r in rows:
        if "folded_rows" in r:
            r["name"] = REMAINDER_LABEL
    return rows


def services(ctx: PageContext) -> Page:
    t = ctx.t
    page = Page("leistungen", t("Leistungen"))
    names = _names()
    rows = service_rows(ctx.store, ctx.site, ctx.k, ctx.date_from, ctx.date_to)
    old = ({r["service_id"]: r for r in service_rows(ctx.store, ctx.site, ctx.k,
                                                     ctx.cmp_from, ctx.cmp_to)}
           if ctx.cmp_from and ctx.cmp_to else {})
    fc = cached_forecast(ctx)
    fc_sum = {}
    if isinstance(fc, dict):
        for s in fc["services"]:
            fc_sum[s["service_id"]] = round(sum(r["mean"] for r in s.get("visits", [])), 1)
    for r in rows:
        prev = old.get(r["service_id"]) if "folded_rows" not in r else None
        r["compare_visits"] = prev.get("visits") if prev else None
        r["change"] = _change(r.get("visits"), prev.get("visits")) if prev else None
        r["forecast_28d"] = fc_sum.get(r["service_id"])
    cols = [Col("name", t("Leistung")), Col("visits", t("Besuche"), "int"),
            Col("visitors", t("Besucher"), "int"), Col("searches", t("Suchen"), "int"),
            Col("form_starts", t("Formulare begonnen"), "int"),
            Col("form_submits", t("Formulare abgeschickt"), "int"),
            Col("validation_errors", t("Formularfehler"), "int"),
            Col("success_rate", t("Erfolgsquote Formular"), "pct")]
    if old:
        cols += [Col("compare_visits", t("Besuche im Vergleichszeitraum"), "int"),
                 Col("change", t("Veränderung"), "pct")]
    cols.append(Col("forecast_28d", t("Prognose (nächste 4 Wochen)"), "float"))
    named = [r for r in rows if "folded_rows" not in r]
    page.sections.append(Section(
        "nachfrage", t("Nachfrage je Leistung"),
        chart=bar_chart(t("Nachfrage je Leistung"),
                        [(r["name"], float(r["visits"] or 0)) for r in named[:12]]),
        tables=[Table("nachfrage", t("Nachfrage je Leistung"), cols, rows)]))
    # trend of the five most requested services (daily aggregates)
    order = [r["service_id"] for r in named[:5]]
    series: dict[str, dict[date, int]] = {sid: {} for sid in order}
    for d, sid, visits, _forms in daily_service_demand(ctx.store, ctx.site.id):
        if sid in series and ctx.date_from <= d <= ctx.date_to:
            series[sid][d] = int(visits)
    days = _days(ctx.date_from, ctx.date_to)
    lines = [Series(names.get(sid, sid), [series[sid].get(d, 0) for d in days], f"s{i + 1}")
             for i, sid in enumerate(order)]
    trend_rows = [{"day": d.isoformat(), **{sid: series[sid].get(d, 0) for sid in order}}
                  for d in days]
    page.sections.append(Section(
        "verlauf", t("Verlauf der meistgefragten Leistungen"),
        chart=line_chart(t("Verlauf der meistgefragten Leistungen"),
                         [d.strftime("%d.%m.") for d in days], lines),
        chart_table=Table("verlauf", t("Verlauf der meistgefragten Leistungen"),
                          [Col("day", t("Tag"), "date"),
                           *[Col(sid, names.get(sid, sid), "int") for sid in order]],
                          trend_rows),
        text=t("Zahlen aus den Tagesaggregaten (Besuche = Sitzungen mit der Leistung)."),
        notice="" if isinstance(fc, dict) else fc))
    return page


# -- Suche & Themen ----------------------------------------------------------------------

def search_data(store: Any, site: Any, k: int, d_from: date, d_to: date) -> dict[str, Any]:
    return run_report(store, site, "search", d_from, d_to, "day", k, 50)


def search(ctx: PageContext) -> Page:
    t = ctx.t
    page = Page("suche", t("Suche & Themen"))
    data = search_data(ctx.store, ctx.site, ctx.k, ctx.date_from, ctx.date_to)
    s = data["summary"]
    names = _names()
    kpis = [Kpi("searches", t("Suchen"), s.get("searches")),
            Kpi("no_result_rate", t("Trefferlose Rate"), s.get("no_result_rate"), "pct"),
            Kpi("exit_rate", t("Ausstiegsrate nach Suche"), s.get("exit_rate"), "pct"),
            Kpi("service_page_share", t("Anteil mit Leistungsseite danach"),
                s.get("service_page_share"), "pct")]
    top = data["top_queries"]
    for r in top:
        r["service"] = names.get(r.get("service_id") or "", r.get("service_id") or "")
    page.sections.append(Section(
        "suchbegriffe", t("Suchbegriffe"), kpis=kpis,
        chart=bar_chart(t("Suchbegriffe"), [(r["query"], float(r["searches"]))
                                             for r in top if "folded_rows" not in r][:10]),
        tables=[Table("suchbegriffe", t("Suchbegriffe"),
                      [Col("query", t("Suchbegriff")), Col("searches", t("Suchen"), "int"),
                       Col("visitors", t("Besucher"), "int"),
                       Col("no_results", t("Suchen ohne Treffer"), "int"),
                       Col("exits", t("Ausstiege"), "int"),
                       Col("service_page_share", t("Anteil mit Leistungsseite danach"), "pct"),
                       Col("service", t("Leistung"))], top)]))
    page.sections.append(Section("ohne-treffer", t("Suchen ohne Treffer"), tables=[
        Table("ohne-treffer", t("Suchen ohne Treffer"),
              [Col("query", t("Suchbegriff")), Col("searches", t("Suchen"), "int"),
               Col("visitors", t("Besucher"), "int")], data["no_results"])]))
    page.sections.append(Section("verfeinerungen", t("Verfeinerungen"), tables=[
        Table("verfeinerungen", t("Verfeinerungen"),
              [Col("query", t("Suchbegriff")), Col("next_query", t("nächste Suche")),
               Col("n", t("Anzahl"), "int"), Col("visitors", t("Besucher"), "int")],
              data["refinements"]),
        Table("ausstiege-nach-suche", t("Ausstiege nach Suche"),
              [Col("query", t("Suchbegriff")), Col("exits", t("Ausstiege"), "int"),
               Col("exit_rate", t("Ausstiegsrate"), "pct"),
               Col("visitors", t("Besucher"), "int")], data["exits"]),
        Table("seiten-nach-suche", t("Seiten nach der Suche"),
              [Col("path", t("Seite"), "code"), Col("n", t("Anzahl"), "int"),
               Col("share", t("Anteil"), "pct"), Col("visitors", t("Besucher"), "int")],
              data["pages_after_search"])]))
    page.sections.append(topics_section(ctx))
    return page


_TOPICS: dict[tuple, tuple[float, Any]] = {}


def topics_section(ctx: PageContext) -> Section:
    """Topics of the range's search queries (lexical clustering; the slower semantic
    vectors are left to the CLI and the API), cached for a while."""
    t = ctx.t
    section = Section("themen", t("Themen"))
    mod = optional("amtspuls.analyze.topics")
    if mod is None or not hasattr(mod, "topics_report"):
        section.notice = t("Dieses Modul ist in dieser Installation noch nicht verfügbar.")
        return section
    lo, hi = utc_window(ctx.site, ctx.date_from, ctx.date_to)
    key = (str(ctx.store.path), ctx.site.id, ctx.date_from, ctx.date_to, ctx.k)
    with _FORECAST_LOCK:
        hit = _TOPICS.get(key)
    if hit and time.monotonic() - hit[0] < FORECAST_TTL:
        data = hit[1]
    else:
        data = mod.topics_report(ctx.store, ctx.site, lo, hi, ctx.date_from, ctx.date_to,
                                 k=ctx.k, limit=30, semantic=False)
        with _FORECAST_LOCK:
            if len(_TOPICS) > 64:
                _TOPICS.clear()
            _TOPICS[key] = (time.monotonic(), data)
    rows = [{"label": r["label"], "searches": r["size"], "visitors": r["visitors"],
             "trend": r.get("trend"), "trend_label": r.get("trend_label"),
             "no_result_share": r.get("no_result_share"),
             "examples": ", ".join(r.get("examples") or []),
             "services": ", ".join(x["name"] for x in r.get("services") or [])}
            for r in data["topics"]]
    section.chart = bar_chart(t("Themen"), [(r["label"], float(r["searches"]))
                                            for r in rows[:10]])
    section.tables.append(Table(
        "themen", t("Themen"),
        [Col("label", t("Thema")), Col("searches", t("Suchen"), "int"),
         Col("visitors", t("Besucher"), "int"), Col("trend_label", t("Tendenz")),
         Col("trend", t("Veränderung"), "pct"),
         Col("no_result_share", t("Suchen ohne Treffer"), "pct"),
         Col("examples", t("Beispiele")), Col("services", t("Leistungen"))], rows))
    return section


# -- Wege & Formulare --------------------------------------------------------------------

def journeys(ctx: PageContext) -> Page:
    t = ctx.t
    page = Page("wege", t("Wege & Formulare"))
    names = _names()
    forms = _report(ctx, "forms", limit=100)
    for r in forms["forms"]:
        r["service"] = names.get(r.get("service_id") or "", r.get("service_id") or "")
    shown = [r for r in forms["forms"] if "folded_rows" not in r]
    page.sections.append(Section(
        "formulare", t("Formulare"),
        chart=bar_chart(t("Abbruchquote je Formular"),
                        [(r["form"], float(r.get("abandonment_rate") or 0)) for r in shown][:10],
                        fmt=lambda v: f"{v * 100:.0f} %"),
        tables=[Table("formulare", t("Formulare"),
                      [Col("form", t("Formular"), "code"), Col("service", t("Leistung")),
                       Col("sessions", t("Sitzungen"), "int"),
                       Col("visitors", t("Besucher"), "int"),
                       Col("starts", t("begonnen"), "int"),
                       Col("submits", t("abgeschickt"), "int"),
                       Col("errors", t("Formularfehler"), "int"),
                       Col("abandonment_rate", t("Abbruchquote"), "pct"),
                       Col("abandoned_after_error", t("Abbruch nach Fehler"), "int"),
                       Col("success_rate", t("Erfolgsquote Formular"), "pct")],
                      forms["forms"]),
                Table("fehler-je-feld", t("Fehler je Feld"),
                      [Col("form", t("Formular"), "code"), Col("field", t("Feld"), "code"),
                       Col("errors", t("Formularfehler"), "int"),
                       Col("visitors", t("Besucher"), "int"),
                       Col("error_rate", t("Fehlerquote"), "pct")], forms["fields"])]))
    choices = [(r["service_id"], r["name"]) for r in
               service_rows(ctx.store, ctx.site, ctx.k, ctx.date_from, ctx.date_to)
               if "folded_rows" not in r and r["service_id"] != "none"]
    page.choices = choices
    wanted = ctx.request.query_params.get("service")
    service = wanted if wanted in dict(choices) else (choices[0][0] if choices else None)
    page.choice = service
    data = None
    if service:
        try:
            data = run_report(ctx.store, ctx.site, "journeys", ctx.date_from, ctx.date_to,
                              "day", ctx.k, 20, service=service)
        except UserError as exc:
            page.sections.append(Section("wege", t("Wege zu den Leistungen"), notice=str(exc)))
    if data is not None:
        funnel = [{"label": s["label"], "sessions": s["sessions"], "share": s["share"]}
                  for s in data["funnel"]]
        page.sections.append(Section(
            "wege", f"{t('Wege zu den Leistungen')}: {data['name']}",
            chart=bar_chart(f"{t('Trichter')}: {data['name']}",
                            [(s["label"], float(s["sessions"] or 0)) for s in funnel]),
            chart_table=Table("trichter", f"{t('Trichter')}: {data['name']}",
                              [Col("label", t("Schritt")), Col("sessions", t("Sitzungen"),
                                                                "int"),
                               Col("share", t("Anteil"), "pct")], funnel),
            tables=[Table("wege-davor", t("Wege zur Leistungsseite"),
                          [Col("path", t("Weg")), Col("sessions", t("Sitzungen"), "int"),
                           Col("visitors", t("Besucher"), "int")], data["paths_to"]),
                    Table("wege-danach", t("Wege ab der Leistungsseite"),
                          [Col("path", t("Weg")), Col("sessions", t("Sitzungen"), "int"),
                           Col("visitors", t("Besucher"), "int")], data["paths_through"]),
                    Table("aufgegeben", t("Letzter Schritt ohne Abschluss"),
                          [Col("last_step", t("Schritt")), Col("sessions", t("Sitzungen"),
                                                                "int"),
                           Col("visitors", t("Besucher"), "int")], data["give_up"])]))
    frust = _report(ctx, "frustration", limit=50)
    sm = frust["summary"]
    page.sections.append(Section(
        "frust", t("Frust-Signale"),
        kpis=[Kpi("rage_clicks", t("Wutklicks"), sm.get("rage_clicks")),
              Kpi("quick_backs", t("Schnelle Rückkehr"), sm.get("quick_backs")),
              Kpi("search_loops", t("Suchschleifen ohne Leistung"), sm.get("search_loops")),
              Kpi("not_found_hits", t("Nicht gefunden (404)"), sm.get("not_found_hits"))],
        tables=[Table("wutklicks", t("Wutklicks"),
                      [Col("path", t("Seite"), "code"), Col("rage_clicks", t("Wutklicks"), "int"),
                       Col("sessions", t("Sitzungen"), "int"),
                       Col("visitors", t("Besucher"), "int")], frust.get("rage_clicks", [])),
                Table("schnelle-rueckkehr", t("Schnelle Rückkehr"),
                      [Col("path", t("Seite"), "code"),
                       Col("quick_backs", t("Schnelle Rückkehr"), "int"),
                       Col("rate", t("Anteil"), "pct"), Col("visitors", t("Besucher"), "int")],
                      frust.get("quick_backs", [])),
                Table("suchschleifen", t("Suchschleifen ohne Leistung"),
                      [Col("query", t("Suchbegriff")), Col("sessions", t("Sitzungen"), "int"),
                       Col("visitors", t("Besucher"), "int")], frust.get("search_loops", []))]))
    entry = _report(ctx, "entry-pages", limit=20)
    exits = _report(ctx, "exit-pages", limit=20)
    page.sections.append(Section("einstieg-ausstieg", t("Einstiegsseiten"), tables=[
        Table("einstiegsseiten", t("Einstiegsseiten"),
              [Col("path", t("Seite"), "code"), Col("entries", t("Einstiege"), "int"),
               Col("visitors", t("Besucher"), "int"),
               Col("bounce_rate", t("Absprungrate"), "pct")], entry),
        Table("ausstiegsseiten", t("Ausstiegsseiten"),
              [Col("path", t("Seite"), "code"), Col("exits", t("Ausstiege"), "int"),
               Col("visitors", t("Besucher"), "int"),
               Col("exit_rate", t("Ausstiegsrate"), "pct")], exits)]))
    dead = _report(ctx, "not-found", limit=50)
    for r in dead:
        r["referrer_paths"] = ", ".join(x["referrer_path"] for x in r.get("referrers") or [])
    page.sections.append(Section("tote-links", t("Tote Links (404) mit internen Verweisen"),
                                 tables=[Table("tote-links", t("Nicht gefunden (404)"),
                                               [Col("path", t("Seite"), "code"),
                                                Col("hits", t("Treffer"), "int"),
                                                Col("visitors", t("Besucher"), "int"),
                                                Col("internal_hits",
                                                    t("davon intern verlinkt"), "int"),
                                                Col("referrer_paths", t("Verweise"), "code")],
                                               dead)]))
    return page


# -- Frühwarnung -------------------------------------------------------------------------

def alerts(ctx: PageContext) -> Page:
    t = ctx.t
    page = Page("fruehwarnung", t("Frühwarnung"))
    rows = alerts_rows(ctx, limit=200)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["service"]] = counts.get(r["service"], 0) + 1

    def buttons(row: dict) -> list[Action]:
        if not ctx.can("analyst") or row["status"] == "closed":
            return []
        base = f"/dashboard/fruehwarnung/{row['id']}"
        hint = f"{row['service']} ({row['signal']})"
        out = []
        if row["status"] == "open":
            out.append(Action(t("bestätigen"), base, {"action": "acknowledge"}, hint=hint))
        out.append(Action(t("schließen"), base, {"action": "close"}, hint=hint))
        return out

    section = Section("warnungen", t("Warnungen"),
                      tables=[Table("warnungen", t("Warnungen"), alert_cols(t), rows,
                                    actions=buttons)])
    if counts:
        section.chart = bar_chart(t("Warnungen"), sorted(counts.items(), key=lambda x: -x[1]))
    else:
        section.text = t("Keine Warnungen in diesem Zeitraum.")
    page.sections.append(section)
    return page


# -- Prognose & Personal -----------------------------------------------------------------

def forecast(ctx: PageContext) -> Page:
    t = ctx.t
    page = Page("prognose", t("Prognose & Personal"))
    fc = cached_forecast(ctx)
    if not isinstance(fc, dict):
        page.sections.append(Section("prognose", t("Prognose"), notice=fc))
        return page
    names = _names()
    staffing = []
    for w in fc["staffing"]:
        row = {"week": w["week"], "start": w["start"], "days": w["days"],
               "department": w["department"]}
        for kind in ("visits", "forms", "requests"):
            cell = w.get(kind) or {}
            row[kind] = cell.get("mean")
            row[f"{kind}_lo80"] = cell.get("lo80")
            row[f"{kind}_hi80"] = cell.get("hi80")
        staffing.append(row)
    services_fc = sorted(fc["services"], key=lambda s: -sum(r["mean"] for r in s.get("visits",
                                                                                      [])))
    top = [s for s in services_fc if s.get("visits")][:3]
    days = [r["date"] for r in top[0]["visits"]] if top else []
    lines = [Series(names.get(s["service_id"], s["name"]), [r["mean"] for r in s["visits"]],
                    f"s{i + 1}", [r.get("lo80") for r in s["visits"]],
                    [r.get("hi80") for r in s["visits"]]) for i, s in enumerate(top)]
    fc_rows = [{"date": r["date"], "service": names.get(s["service_id"], s["name"]),
                "mean": r["mean"], "lo80": r.get("lo80"), "hi80": r.get("hi80")}
               for s in top for r in s["visits"]]
    page.sections.append(Section(
        "prognose", t("Prognose Besuche"),
        chart=line_chart(t("Prognose Besuche"), [d[8:10] + "." + d[5:7] + "." for d in days],
                         lines, description=fc["model"]),
        chart_table=Table("prognose", t("Prognose Besuche"),
                          [Col("date", t("Tag"), "date"), Col("service", t("Leistung")),
                           Col("mean", t("Prognose"), "float"),
                           Col("lo80", t("untere Grenze 80 %"), "float"),
                           Col("hi80", t("obere Grenze 80 %"), "float")], fc_rows),
        text=f"{t('Modell')}: {fc['model']}"))
    page.sections.append(Section("personal", t("Personalbedarf je Woche und Fachbereich"),
                                 tables=[Table(
        "personal", t("Personalbedarf je Woche und Fachbereich"),
        [Col("week", t("Woche")), Col("department", t("Fachbereich")),
         Col("days", t("Tage"), "int"), Col("visits", t("Besuche (Prognose)"), "float"),
         Col("visits_lo80", t("untere Grenze 80 %"), "float"),
         Col("visits_hi80", t("obere Grenze 80 %"), "float"),
         Col("forms", t("Formulare (Prognose)"), "float"),
         Col("requests", t("Anliegen (Prognose)"), "float")], staffing)]))
    return page


# -- Empfehlungen ------------------------------------------------------------------------

def recommend(ctx: PageContext) -> Page:
    """The stored recommendations (computed by `engine.run`: the button below, or
    `amtspuls recommend`; never on a page view), filtered by status, with their
    lifecycle buttons for analysts."""
    from amtspuls.recommend import engine

    t = ctx.t
    page = Page("empfehlungen", t("Empfehlungen"))
    labels = dict(REC_STATUSES)
    wanted = ctx.request.query_params.get("status") or ""
    status = wanted if wanted in labels else None
    page.choice_name, page.choice_label = "status", "Status"
    page.choices = [("", t("aktuell (ohne verworfene)")),
                    *((code, t(label)) for code, label in REC_STATUSES)]
    page.choice = status or ""
    recs = engine.list_recommendations(ctx.store, ctx.site, status=status)
    section = Section("empfehlungen", t("Handlungsempfehlungen"))
    section.text = t("Berechnet aus den {n} Tagen bis zum letzten Tag mit Daten, unabhängig "
                     "vom Zeitraum oben; gezeigt wird der gespeicherte Stand.",
                     n=engine.WINDOW_DAYS)
    last = max((r["updated"] for r in recs if r.get("updated")), default=None)
    if last:
        section.text += " " + t("Zuletzt berechnet: {ts}.",
                                ts=last[:16].replace("T", " ") + " UTC")
    if not recs and status is None and not engine.list_recommendations(
            ctx.store, ctx.site, status="dismissed"):
        section.notice = t("Für diese Website sind noch keine Empfehlungen gespeichert.")
        if not ctx.can("analyst"):
            section.notice += " " + t("Eine Analystin oder ein Analyst kann sie berechnen.")
    if ctx.can("analyst"):
        section.buttons.append(Action(t("Empfehlungen neu berechnen"),
                                      "/dashboard/empfehlungen/berechnen"))
    section.tables.append(rec_table(ctx, rec_rows(ctx, recs), "empfehlungen", actions=True))
    page.sections.append(section)
    return page


# -- Anliegen ----------------------------------------------------------------------------

def request_queue(ctx: PageContext) -> list[dict] | None:
    """Service requests of the range with their triage, when the Open311 store is there."""
    mod = optional("amtspuls.store.requests_store")
    if mod is None:
        return None
    rs = mod.RequestStore(ctx.store)
    lo, hi = utc_window(ctx.site, ctx.date_from, ctx.date_to)
    rows = rs.list_requests(ctx.site.id, start=lo, end=hi, limit=1000)
    triage = rs.triage_of(ctx.site.id, [r["service_request_id"] for r in rows]) if rows else {}
    out = []
    for r in rows:
        tr = triage.get(r["service_request_id"], {})
        out.append({**r, "priority": tr.get("priority"),
                    "priority_reasons": tr.get("priority_reasons"),
                    "duplicate_group": tr.get("duplicate_group"),
                    "department": tr.get("department")})
    return out


def requests(ctx: PageContext) -> Page:
    t = ctx.t
    page = Page("anliegen", t("Anliegen"))
    rows = request_queue(ctx)
    if rows is None:
        page.sections.append(Section("warteschlange", t("Anliegen-Warteschlange"), notice=t(
            "Dieses Modul ist in dieser Installation noch nicht verfügbar.")))
        return page
    names = _names()
    out = []
    for r in rows:
        out.append({
            "id": r.get("service_request_id"), "received": r.get("requested_datetime"),
            "status": r.get("status"),
            "category": names.get(r.get("service_id") or "", r.get("service_id")),
            "priority": r.get("priority"),
            "reasons": _evidence_text(r.get("priority_reasons")),
            "group": r.get("duplicate_group"), "description": r.get("description"),
            "address": r.get("address_string"), "lat": r.get("lat"), "long": r.get("long"),
        })
    out.sort(key=lambda r: (-(r["priority"] or 0), str(r["received"])))

    def buttons(row: dict) -> list[Action]:
        if not ctx.can("analyst") or row["id"] is None:
            return []
        base = f"/dashboard/anliegen/{row['id']}"
        out = [Action(t("bestätigen"), base, {"action": "confirm"})]
        if row["status"] != "closed":
            out.append(Action(t("schließen"), base, {"action": "closed"}))
        return out

    points = [MapPoint(float(r["lat"]), float(r["long"]),
                       f"{r['id']}: {r['category']}", r["group"])
              for r in out if r["lat"] is not None and r["long"] is not None]
    page.sections.append(Section(
        "warteschlange", t("Anliegen-Warteschlange"),
        tables=[Table("anliegen", t("Anliegen-Warteschlange"),
                      [Col("id", "ID", "code"), Col("received", t("Eingang"), "datetime"),
                       Col("status", t("Status")), Col("category", t("Kategorie")),
                       Col("priority", t("Priorität"), "int"), Col("reasons", t("Gründe")),
                       Col("group", t("Dublettengruppe"), "code"),
                       Col("description", t("Beschreibung")), Col("address", t("Ort"))],
                      out, actions=buttons)]))
    page.sections.append(Section(
        "karte", t("Karte der Anliegen (Dubletten verbunden)"),
        svg_map=point_map(t("Karte der Anliegen (Dubletten verbunden)"), points,
                          t("Anliegen als Punkte nach Breiten- und Längengrad; "
                            "Dubletten sind verbunden.")),
        chart_table=Table("karte", t("Karte der Anliegen (Dubletten verbunden)"),
                          [Col("id", "ID", "code"), Col("category", t("Kategorie")),
                           Col("group", t("Dublettengruppe"), "code"),
                           Col("lat", t("Breite"), "text"), Col("long", t("Länge"), "text")],
                          [r for r in out if r["lat"] is not None])))
    return page


PAGES: dict[str, tuple[str, Callable[[PageContext], Page], str]] = {
    # slug: (German title, builder, minimum role)
    "": ("Übersicht", overview, "viewer"),
    "leistungen": ("Leistungen", services, "viewer"),
    "suche": ("Suche & Themen", search, "viewer"),
    "wege": ("Wege & Formulare", journeys, "viewer"),
    "fruehwarnung": ("Frühwarnung", alerts, "viewer"),
    "prognose": ("Prognose & Personal", forecast, "viewer"),
    "empfehlungen": ("Empfehlungen", recommend, "viewer"),
    "anliegen": ("Anliegen", requests, "viewer"),
}
