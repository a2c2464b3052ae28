"""The weekly report (Wochenbericht): one printable, self-contained German HTML file per
site and ISO week — the week's key figures against the usual, the alerts of the week, the
top recommendations and the effect of completed ones — optionally sent by e-mail.

Every figure comes from the k-anonymous reports (`analyze.reports.run_report`): search
queries and pages that fewer than k visitors used are never listed on their own. "Usual"
is the mean of the previous four weeks that the data covers completely. The file has no
external resources at all: CSS inline, charts as inline SVG drawn here, each chart with a
data table as its accessible alternative.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from amtspuls import __version__
from amtspuls.analyze.reports import run_report, utc_window
from amtspuls.config import Settings
from amtspuls.errors import UserError
from amtspuls.mail import Email, configured_email, send_message
from amtspuls.model import Site
from amtspuls.privacy.kanon import REMAINDER_LABEL
from amtspuls.recommend.texts import number_de, percent_de
from amtspuls.store import DuckDBStore
from amtspuls.store.reports import last_day

COMPARE_WEEKS = 4
TOP_RECOMMENDATIONS = 10
TOP_ROWS = 10
ALL_ROWS = 100_000  # a report limit that keeps every row (for sums over all forms)
WEEKDAYS_DE = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
WEEKDAY_NAMES_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag",
                    "Sonntag")
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{1,2})$")

# key → German label of the key figures, in the order shown.
FIGURES: tuple[tuple[str, str], ...] = (
    ("visits", "Besuche"),
    ("visitors", "Besucher (Tageswerte summiert)"),
    ("pageviews", "Seitenaufrufe"),
    ("searches", "Suchanfragen"),
    ("no_results", "Suchen ohne Treffer"),
    ("form_submits", "Abgeschickte Formulare"),
    ("not_found", "Aufrufe nicht gefundener Seiten (404)"),
    ("requests", "Bürgermeldungen"),
)

METRIC_LABELS_DE = {
    "visits": "Besuche",
    "pageviews": "Seitenaufrufe",
    "searches": "Suchanfragen",
    "zero_result_searches": "Suchen ohne Treffer",
    "searches_per_completed_form": "Suchanfragen pro abgeschlossenem Formular",
    "searches_last_week": "Suchanfragen in der letzten Woche",
    "field_error_rate": "Fehlerquote am Feld",
    "abandonment_rate": "Abbruchquote",
    "mobile_success_rate": "Erfolgsquote auf Mobilgeräten",
    "not_found_hits": "Aufrufe nicht gefundener Seiten",
    "pdf_downloads": "PDF-Downloads",
    "duplicate_requests": "Mehrfachmeldungen",
    "forecast_visits_week": "Prognose: Besuche pro Woche",
    "visits_per_week": "Besuche pro Woche",
}

SEVERITY_DE = {"critical": "kritisch", "warning": "Warnung", "info": "Hinweis"}
STATUS_DE = {"open": "offen", "accepted": "angenommen", "done": "umgesetzt",
             "dismissed": "verworfen"}
EFFECT_STATE_DE = {"measured": "gemessen", "waiting": "Messung läuft",
                   "not_measurable": "nicht messbar"}


# -- weeks ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class IsoWeek:
    year: int
    week: int

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def label_de(self) -> str:
        return f"KW {self.week}/{self.year}"

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        y, w, _ = day.isocalendar()
        return cls(y, w)

    def minus(self, weeks: int) -> IsoWeek:
        return IsoWeek.of(self.monday - timedelta(weeks=weeks))


def parse_week(text: str) -> IsoWeek:
    """An ISO week like 2026-W05."""
    m = _WEEK_RE.match(text.strip())
    if m:
        try:
            week = IsoWeek(int(m.group(1)), int(m.group(2)))
            week.monday  # noqa: B018 — validates the week number for that year
            return week
        except ValueError:
            pass
    raise UserError(f"--week: expected an ISO week like 2026-W05, got {text!r}")


def default_week(last: date) -> IsoWeek:
    """The last complete ISO week up to the last day with data."""
    if last.weekday() == 6:
        return IsoWeek.of(last)
    return IsoWeek.of(last - timedelta(days=last.weekday() + 1))


# -- the figures ----------------------------------------------------------------------------

def _requests_in(store: DuckDBStore, site: Site, day_from: date, day_to: date) -> int:
    lo, hi = utc_window(site, day_from, day_to)
    rows = store.query(
        "SELECT count(*) AS n FROM service_requests WHERE site_id = $site "
        "AND requested_datetime >= $lo AND requested_datetime < $hi",
        {"site": site.id, "lo": lo, "hi": hi})
    return int(rows[0]["n"]) if rows else 0


def week_figures(store: DuckDBStore, site: Site, week: IsoWeek, k: int) -> dict[str, int]:
    """The key figures of one week, each from a k-anonymous report."""
    mon, sun = week.monday, week.sunday
    overview = run_report(store, site, "overview", mon, sun, k=k)
    search = run_report(store, site, "search", mon, sun, k=k, limit=TOP_ROWS)
    forms = run_report(store, site, "forms", mon, sun, k=k, limit=ALL_ROWS)
    return {
        "visits": int(overview["visits"]),
        "visitors": int(overview["visitors"]),
        "pageviews": int(overview["pageviews"]),
        "searches": int(search["summary"]["searches"]),
        "no_results": int(search["summary"]["no_results"]),
        # the forms report folds forms of fewer than k visitors into one remainder row
        # (shown only if that covers k visitors): the sum is the k-anonymous total
        "form_submits": sum(int(r.get("submits") or 0) for r in forms["forms"]),
        "not_found": int(overview["not_found"]),
        "requests": _requests_in(store, site, mon, sun),
    }


def _complete_weeks(store: DuckDBStore, site: Site, week: IsoWeek, k: int) -> list[IsoWeek]:
    """The previous weeks (up to four) that the data covers from their Monday on."""
    first = week.minus(COMPARE_WEEKS).monday
    rows = run_report(store, site, "timeseries", first, week.monday - timedelta(days=1),
                      k=k, interval="day")
    days = [date.fromisoformat(r["period"][:10]) for r in rows if int(r["visits"] or 0)]
    if not days:
        return []
    start = min(days)
    return [w for w in (week.minus(i) for i in range(COMPARE_WEEKS, 0, -1))
            if w.monday >= start]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _change(value: float, usual: float | None) -> float | None:
    if usual is None or usual <= 0:
        return None
    return value / usual - 1


def _daily(store: DuckDBStore, site: Site, week: IsoWeek, compare: list[IsoWeek], k: int
           ) -> list[dict[str, Any]]:
    """Visits per day of the week, and the usual: the mean of the same weekday in the
    comparison weeks."""
    rows = run_report(store, site, "timeseries", week.monday, week.sunday, k=k,
                      interval="day")
    by_day = {r["period"][:10]: int(r["visits"] or 0) for r in rows}
    past: dict[int, list[int]] = {i: [] for i in range(7)}
    if compare:
        before = run_report(store, site, "timeseries", compare[0].monday,
                            compare[-1].sunday, k=k, interval="day")
        seen = {r["period"][:10]: int(r["visits"] or 0) for r in before}
        for w in compare:
            for i in range(7):
                d = w.monday + timedelta(days=i)
                past[i].append(seen.get(d.isoformat(), 0))
    out = []
    for i in range(7):
        d = week.monday + timedelta(days=i)
        usual = _mean([float(v) for v in past[i]])
        out.append({"day": d.isoformat(), "label": f"{WEEKDAYS_DE[i]} {d:%d.%m.}",
                    "weekday": WEEKDAY_NAMES_DE[i], "date_de": f"{d:%d.%m.%Y}",
                    "visits": by_day.get(d.isoformat(), 0),
                    "usual": round(usual, 1) if usual is not None else None})
    return out


def _k_rows(rows: list[dict[str, Any]], k: int, label: str) -> list[dict[str, Any]]:
    """Defence in depth: only rows of at least k visitors, or the folded remainder."""
    return [r for r in rows if r.get(label) == REMAINDER_LABEL
            or (r.get("visitors") is not None and int(r["visitors"]) >= k)]


# -- alerts and recommendations --------------------------------------------------------------

def _local(ts: datetime | None, tz: ZoneInfo) -> str:
    if ts is None:
        return ""
    return ts.replace(tzinfo=UTC).astimezone(tz).strftime("%d.%m.%Y %H:%M")


def _alerts(store: DuckDBStore, site: Site, week: IsoWeek) -> tuple[list[dict], bool]:
    """Alerts that were open during the week (newest first), and whether any are stored."""
    from amtspuls.store import signals as sq

    tz = ZoneInfo(site.timezone)
    lo, hi = utc_window(site, week.monday, week.sunday)
    stored = bool(sq.list_alerts(store, site.id, limit=1))
    out = []
    for a in sq.list_alerts(store, site.id, since=lo, limit=1000):
        if a["start_ts"] >= hi:
            continue
        ev = a.get("evidence") or {}
        out.append({
            "start": _local(a["start_ts"], tz), "end": _local(a["end_ts"], tz),
            "signal": ev.get("label_de") or a["signal"],
            "service_id": a["service_id"],
            "direction": "Anstieg" if a["direction"] == "up" else "Einbruch",
            "severity": SEVERITY_DE.get(a["severity"], a["severity"]),
            "severity_key": a["severity"],
            "observed": a["observed"], "expected": a["expected"],
            "message": ev.get("message_de") or "",
            "status": a["status"],
        })
    return out, stored


def _is_rate(metric: str) -> bool:
    return metric.endswith("_rate")


def _period_de(period: str | None, tz: ZoneInfo) -> str:
    """"2026-01-01/2026-01-28" → "01.01.2026 bis 28.01.2026" (times in the site's zone)."""
    if not period:
        return ""
    parts = []
    for p in str(period).split("/"):
        p = p.strip()
        try:
            if "T" in p:
                t = datetime.fromisoformat(p.replace("Z", "+00:00"))
                if t.tzinfo is None:
                    t = t.replace(tzinfo=UTC)
                parts.append(t.astimezone(tz).strftime("%d.%m.%Y %H:%M"))
            else:
                parts.append(date.fromisoformat(p).strftime("%d.%m.%Y"))
        except ValueError:
            parts.append(p)
    return " bis ".join(parts)


def metric_label(metric: str) -> str:
    """German name of an evidence metric (the early warning's signal families included)."""
    if metric in METRIC_LABELS_DE:
        return METRIC_LABELS_DE[metric]
    from amtspuls.analyze.signals import FAMILIES

    family = FAMILIES.get(metric)
    return family.label_de if family is not None and family.label_de else metric


def _evidence(ev: dict[str, Any], k: int, tz: ZoneInfo) -> dict[str, Any]:
    metric = str(ev.get("metric", ""))
    kind = "pct" if _is_rate(metric) else "num"
    return {
        "label": metric_label(metric),
        "value": ev.get("value"), "baseline": ev.get("baseline"), "kind": kind,
        "period": _period_de(ev.get("period"), tz),
        "examples": [{"text": str(x.get("text", "")), "count": int(x.get("count") or 0)}
                     for x in ev.get("examples") or [] if int(x.get("count") or 0) >= k],
    }


def _recommendation(r: dict[str, Any], k: int, tz: ZoneInfo) -> dict[str, Any]:
    wording = r.get("wording") or None
    impact = r.get("impact") or {}
    effect = r.get("effect") or None
    return {
        "id": r["id"], "kind": r.get("kind_label") or r["kind"],
        "service_id": r.get("service_id"), "department": r.get("department"),
        "title": r["title"], "action": r["action"],
        "status": STATUS_DE.get(r["status"], r["status"]),
        "confidence": r.get("confidence"),
        "visits_per_week": impact.get("affected_visits_per_week") or 0,
        "requests_per_week": impact.get("affected_requests_per_week") or 0,
        "evidence": [_evidence(ev, k, tz) for ev in r.get("evidence") or []],
        "wording": ({"title": str(wording.get("title") or ""),
                     "action": str(wording.get("action") or "")}
                    if wording and wording.get("generated") else None),
        "effect": ({"state": EFFECT_STATE_DE.get(effect.get("state"), effect.get("state")),
                    "text": effect.get("text_de") or ""} if effect else None),
        "effective": _date_de(r.get("effective")),
    }


def _date_de(value: Any) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10]).strftime("%d.%m.%Y")
    except ValueError:
        return str(value)


def _recommendations(store: DuckDBStore, site: Site, settings: Settings
                     ) -> tuple[list[dict], list[dict]]:
    from amtspuls.recommend import engine

    if not engine.list_recommendations(store, site):
        engine.run(store, site, settings)
    top = [r for r in engine.list_recommendations(store, site)
           if r["status"] in ("open", "accepted")][:TOP_RECOMMENDATIONS]
    done = engine.list_recommendations(store, site, status="done")
    return top, done


# -- the report data -------------------------------------------------------------------------

def build(store: DuckDBStore, site: Site, settings: Settings, week: IsoWeek | None = None,
          now: datetime | None = None) -> dict[str, Any]:
    """Everything the report shows, JSON-ready."""
    k = settings.k_anonymity
    last = last_day(store, site)
    if last is None:
        raise UserError(f"no data for {site.domain} yet")
    if week is None:
        week = default_week(last)
    if week.monday > last:
        raise UserError(f"--week {week.label}: no data in that week "
                        f"(last day with data: {last.isoformat()})")
    tz = ZoneInfo(site.timezone)
    compare = _complete_weeks(store, site, week, k)
    this = week_figures(store, site, week, k)
    if not this["visits"] and not this["pageviews"]:
        raise UserError(f"--week {week.label}: no data in that week")
    before = [week_figures(store, site, w, k) for w in compare]
    figures = []
    for key, label in FIGURES:
        usual = _mean([float(b[key]) for b in before])
        if key == "requests" and not this[key] and not usual:
            continue  # no service requests in the store for these weeks
        figures.append({"key": key, "label": label, "value": this[key],
                        "usual": round(usual, 1) if usual is not None else None,
                        "change": _change(this[key], usual)})
    search = run_report(store, site, "search", week.monday, week.sunday, k=k, limit=TOP_ROWS)
    not_found = run_report(store, site, "not-found", week.monday, week.sunday, k=k,
                           limit=TOP_ROWS)
    alerts, alerts_stored = _alerts(store, site, week)
    top, done = _recommendations(store, site, settings)
    now = now or datetime.now(UTC)
    return {
        "site": site.domain, "timezone": site.timezone, "k": k,
        "week": week.label, "week_label": week.label_de, "year": week.year,
        "week_no": week.week, "from": week.monday.isoformat(), "to": week.sunday.isoformat(),
        "from_de": f"{WEEKDAY_NAMES_DE[0]}, {week.monday:%d.%m.%Y}",
        "to_de": f"{WEEKDAY_NAMES_DE[6]}, {week.sunday:%d.%m.%Y}",
        "partial": week.sunday > last, "last_day": last.isoformat(),
        "last_day_de": f"{last:%d.%m.%Y}",
        "generated": now.astimezone(tz).strftime("%d.%m.%Y %H:%M"),
        "compare_weeks": [w.label for w in compare],
        "compare_label": _compare_label(compare),
        "figures": figures,
        "daily": _daily(store, site, week, compare, k),
        "no_results": _k_rows(search["no_results"], k, "query"),
        "not_found": _k_rows(not_found, k, "path")[:TOP_ROWS + 1],
        "alerts": alerts, "alerts_stored": alerts_stored,
        "recommendations": [_recommendation(r, k, tz) for r in top],
        "done": [_recommendation(r, k, tz) for r in done],
        "version": __version__,
    }


def _compare_label(compare: list[IsoWeek]) -> str:
    if not compare:
        return "keine vollständige Vorwoche in den Daten"
    if len(compare) == 1:
        return f"KW {compare[0].week}/{compare[0].year}"
    a, b = compare[0], compare[-1]
    years = f"/{a.year}" if a.year != b.year else ""
    return f"Mittel von {len(compare)} Vorwochen (KW {a.week}{years} bis KW {b.week}/{b.year})"


# -- formatting -----------------------------------------------------------------------------

def de_change(value: Any) -> str:
    """A relative change: "+12 %", "−5 %", "±0 %"."""
    if value is None:
        return "–"
    p = round(100 * float(value))
    if p == 0:
        return "±0 %"
    return ("+" if p > 0 else "−") + number_de(abs(p)) + " %"


def de_approx(value: Any) -> str:
    """A mean: whole numbers from 100 on, one decimal below."""
    if value is None:
        return "–"
    return number_de(round(float(value)) if abs(float(value)) >= 100 else round(float(value), 1))


def de_value(value: Any, kind: str) -> str:
    return percent_de(value) if kind == "pct" else number_de(value)


# -- the chart -------------------------------------------------------------------------------

def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** len(str(int(value))) / 10
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def visits_chart(daily: list[dict[str, Any]], title: str, uid: str = "chart-visits") -> Markup:
    """Bars of the week's daily visits with the usual as a dashed line with markers."""
    w, h = 680, 250
    pad_l, pad_r, pad_t, pad_b = 60, 12, 18, 40
    inner_w, inner_h = w - pad_l - pad_r, h - pad_t - pad_b
    values = [float(d["visits"]) for d in daily]
    values += [float(d["usual"]) for d in daily if d["usual"] is not None]
    top = _nice_max(max(values, default=0))
    slot = inner_w / max(1, len(daily))

    def y(v: float) -> float:
        return pad_t + inner_h * (1 - v / top)

    usual_known = any(d["usual"] is not None for d in daily)
    desc = "; ".join(
        f"{d['weekday']} {d['date_de']}: {number_de(d['visits'])} Besuche"
        + (f", üblich {de_approx(d['usual'])}" if d["usual"] is not None else "")
        for d in daily)
    parts = [
        f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" class="chart" '
        f'aria-labelledby="{uid}-t {uid}-d" focusable="false">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(desc)}</desc>',
    ]
    for i in range(5):
        v = top * i / 4
        parts.append(f'<line class="grid" x1="{pad_l}" x2="{w - pad_r}" y1="{y(v):.1f}" '
                     f'y2="{y(v):.1f}"/>')
        parts.append(f'<text class="axis" x="{pad_l - 6}" y="{y(v) + 4:.1f}" '
                     f'text-anchor="end">{escape(number_de(round(v)))}</text>')
    for i, d in enumerate(daily):
        cx = pad_l + slot * (i + 0.5)
        bw = slot * 0.56
        v = float(d["visits"])
        parts.append(f'<rect class="bar" x="{cx - bw / 2:.1f}" y="{y(v):.1f}" '
                     f'width="{bw:.1f}" height="{max(0.0, pad_t + inner_h - y(v)):.1f}"/>')
        # the value at the foot of a tall bar (clear of the usual line), else above it
        inside = pad_t + inner_h - y(v) > 24
        parts.append(f'<text class="{"value-in" if inside else "value"}" x="{cx:.1f}" '
                     f'y="{pad_t + inner_h - 8 if inside else y(v) - 5:.1f}" '
                     f'text-anchor="middle">{escape(number_de(d["visits"]))}</text>')
        parts.append(f'<text class="axis" x="{cx:.1f}" y="{h - pad_b + 18}" '
                     f'text-anchor="middle">{escape(d["label"])}</text>')
    if usual_known:
        pts = [(pad_l + slot * (i + 0.5), y(float(d["usual"])))
               for i, d in enumerate(daily) if d["usual"] is not None]
        parts.append('<polyline class="usual" points="'
                     + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
        for a, b in pts:
            parts.append(f'<rect class="usual-mark" x="{a - 4:.1f}" y="{b - 4:.1f}" '
                         'width="8" height="8"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


# -- rendering --------------------------------------------------------------------------------

_env = Environment(
    loader=PackageLoader("amtspuls.recommend", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_env.filters.update(num=number_de, pct=percent_de, change=de_change, value=de_value,
                    approx=de_approx)


def render_html(data: dict[str, Any]) -> str:
    title = (f"Besuche pro Tag in {data['week_label']}"
             + (" im Vergleich zum Üblichen" if data["compare_weeks"] else ""))
    return _env.get_template("weekly.html").render(
        r=data, chart=visits_chart(data["daily"], title), chart_title=title,
        remainder=REMAINDER_LABEL)


def summary_text(data: dict[str, Any]) -> str:
    """The plain-text part of the e-mail: the key figures and the top recommendations."""
    lines = [f"Wochenbericht {data['week_label']} für {data['site']}",
             f"Zeitraum: {data['from_de']} bis {data['to_de']} ({data['timezone']})", ""]
    lines.append(f"Kennzahlen der Woche (üblich: {data['compare_label']}):")
    for f in data["figures"]:
        usual = (f", üblich {de_approx(f['usual'])}, {de_change(f['change'])}"
                 if f["usual"] is not None else "")
        lines.append(f"- {f['label']}: {number_de(f['value'])}{usual}")
    lines.append("")
    if data["alerts"]:
        lines.append(f"Warnungen der Woche: {len(data['alerts'])}")
        for a in data["alerts"][:5]:
            lines.append(f"- {a['start']}: {a['message'] or a['signal']} ({a['severity']})")
    elif data["alerts_stored"]:
        lines.append("Warnungen der Woche: keine")
    else:
        lines.append("Warnungen der Woche: keine Warnungen gespeichert")
    lines.append("")
    if data["recommendations"]:
        lines.append("Wichtigste Empfehlungen:")
        for i, rec in enumerate(data["recommendations"], 1):
            lines.append(f"{i}. {rec['title']}")
            lines.append(f"   {rec['action']}")
    else:
        lines.append("Keine offenen Empfehlungen.")
    if data["done"]:
        lines.append("")
        lines.append("Wirkung umgesetzter Empfehlungen:")
        for rec in data["done"]:
            text = rec["effect"]["text"] if rec["effect"] else "noch nicht gemessen"
            lines.append(f"- {rec['title']}: {text}")
    lines += ["", "Der vollständige Bericht (druckbar) ist als HTML-Teil dieser E-Mail "
                  "enthalten.",
              f"Alle Zahlen sind k-anonym (k = {data['k']})."]
    return "\n".join(lines) + "\n"


# -- output ---------------------------------------------------------------------------------

def check_out(out: str | Path) -> Path:
    """The report file's path, checked before any work: its directory must exist and be
    writable, and the path must not be a directory."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise UserError(f"--out: {str(path)!r} is a directory, expected a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"--out: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out: directory {str(parent)!r} is not writable")
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same directory, then rename: a reader never sees
    half a report, and a failure leaves nothing behind."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UserError(f"--out: cannot write to {str(path.parent)!r} ({exc.strerror})"
                        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"--out: cannot write {str(path)!r} ({exc.strerror or exc})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- e-mail ---------------------------------------------------------------------------------

def mail_channel(settings: Settings, to: list[str], host: str | None = None,
                 port: int | None = None, sender: str | None = None) -> Email:
    """Recipients from the command line; server, port, sender, TLS and login from the
    options, else from the `[warning.email]` channel of DATA/amtspuls.toml, else defaults."""
    for addr in to:
        if "@" not in addr or any(c.isspace() for c in addr.strip()):
            raise UserError(f"--email-to: not an e-mail address: {addr!r}")
    if port is not None and not 0 < port < 65536:
        raise UserError(f"--smtp-port: expected 1–65535, got {port}")
    base = configured_email(settings) or Email(to=[])
    return Email(to=[a.strip() for a in to], host=host or base.host,
                 port=port or base.port, sender=sender or base.sender,
                 starttls=base.starttls, use_ssl=base.use_ssl, username=base.username,
                 password_env=base.password_env, name="wochenbericht")


def subject(data: dict[str, Any]) -> str:
    return f"amtspuls Wochenbericht {data['site']} KW {data['week_no']}"


def email_message(data: dict[str, Any], html: str, mail: Email) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject(data)
    msg["From"] = mail.sender
    msg["To"] = ", ".join(mail.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=mail.sender.rpartition("@")[2] or None)
    msg.set_content(summary_text(data))
    msg.add_alternative(html, subtype="html")
    return msg


def send(data: dict[str, Any], html: str, mail: Email) -> None:
    """Raises OSError (smtplib's errors included) when the server cannot be reached or
    refuses the message."""
    send_message(mail, email_message(data, html, mail))
