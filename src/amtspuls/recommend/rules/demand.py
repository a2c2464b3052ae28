"""Demand: spikes and form outages found by the early warning, forecast peaks (staffing),
and recurring seasons a city can prepare for."""

from __future__ import annotations

import logging
import tomllib
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from amtspuls.errors import UserError
from amtspuls.recommend.findings import NONE, Context, Finding, confidence_of, evidence
from amtspuls.recommend.texts import number_de

log = logging.getLogger("amtspuls.recommend")

SEVERITY_CONFIDENCE = {"critical": 0.95, "warning": 0.8, "info": 0.5}
SIGNAL_DE = {"visits": "Besuche", "requests": "Meldungen",
             "social_entries": "Besuche über soziale Netzwerke",
             "campaign_entries": "Besuche über Kampagnen-Links"}
SIGNAL_EN = {"visits": "visits", "requests": "reports",
             "social_entries": "visits from social networks",
             "campaign_entries": "visits from campaign links"}
# A forecast week must exceed the recent weekly level by this factor (lower 80 % bound).
PEAK_RATIO = 1.25
SEASON_LEAD_DAYS = 21


def _alerts(ctx: Context) -> list[dict[str, Any]]:
    """The window's alerts: those stored by the live loop, else a replay of the window
    scored as the live stream would have scored it."""
    if "alerts" in ctx.cache:
        return ctx.cache["alerts"]
    from amtspuls.store import signals as sq

    lo, hi = ctx.window
    stored = [a for a in sq.list_alerts(ctx.store, ctx.site.id, since=lo, limit=10_000)
              if a["start_ts"] < hi]
    if stored:
        alerts = [{"signal": a["signal"], "service_id": a["service_id"],
                   "direction": a["direction"], "start": a["start_ts"].isoformat() + "Z",
                   "observed": a["observed"], "expected": a["expected"],
                   "severity": a["severity"], "evidence": {**a["evidence"], "key": a["key"]}}
                  for a in stored]
    else:
        from amtspuls.analyze.detect.config import load_warning_config
        from amtspuls.analyze.detect.runner import run_detect

        cfg = load_warning_config(ctx.settings).detect
        alerts = run_detect(ctx.store, ctx.site, ctx.day_from, ctx.day_to, cfg,
                            ctx.settings.session_timeout_minutes)
    ctx.cache["alerts"] = alerts
    return alerts


def _local(ctx: Context, iso: str) -> datetime:
    t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return t.astimezone(ZoneInfo(ctx.site.timezone))


def demand_spikes(ctx: Context) -> list[Finding]:
    best: dict[tuple[str, str, str], dict[str, Any]] = {}
    for a in _alerts(ctx):
        sig, direction = a["signal"], a["direction"]
        if sig in SIGNAL_DE and direction == "up":
            kind = "demand_spike"
        elif (sig == "submit_error_rate" and direction == "up") or (
                sig == "form_submits" and direction == "down"):
            kind = "form_outage"
        else:
            continue
        key = str(a["evidence"].get("key") or a["service_id"])
        if key == "*":
            continue  # the whole site: no single service to act on
        week = _local(ctx, a["start"]).date().isocalendar()
        ident = (kind, key, f"{week.year}-W{week.week:02d}")
        if ident not in best or a["observed"] - a["expected"] > (
                best[ident]["observed"] - best[ident]["expected"]):
            best[ident] = a
    out = []
    for (kind, key, week), a in best.items():
        sid = a["service_id"] if a["service_id"] and a["service_id"] != "*" else NONE
        ev = a["evidence"]
        extra = max(0.0, float(a["observed"]) - float(a["expected"]))
        start = _local(ctx, a["start"])
        tops = [p for p in ev.get("top_paths") or [] if isinstance(p, dict) and p.get("path")]
        if not tops and key.startswith("/"):  # a page group: which of its pages drew them
            tops = _top_paths(ctx, key, a)
        # the site's own pages: public, not visitor data
        examples = [{"text": p["path"], "count": int(p.get("pageviews") or 0), "public": True}
                    for p in tops][:3]
        if sid == NONE and not examples and key.startswith("/"):
            examples = [{"text": key, "count": int(a["observed"]), "public": True}]
        sig = a["signal"]
        label = ctx.service_name(sid) if sid != NONE else (examples[0]["text"] if examples
                                                           else key)
        out.append(Finding(
            kind=kind, service_id=sid, subject=f"{key}|{week}",
            evidence=[evidence(sig, float(a["observed"]), round(float(a["expected"]), 1),
                               f"{a['start']}/{ev.get('window_end') or a['start']}", examples,
                               severity=a["severity"], p_value=ev.get("p_value"),
                               signal_key=key)],
            visits_per_week=extra if sig != "requests" else 0.0,
            requests_per_week=extra if sig == "requests" else 0.0,
            confidence=SEVERITY_CONFIDENCE.get(a["severity"], 0.5),
            params={"service": label, "observed": number_de(float(a["observed"]), 0),
                    "expected": number_de(float(a["expected"]), 1),
                    "signal": SIGNAL_DE.get(sig, ev.get("label_de") or sig),
                    "signal_en": SIGNAL_EN.get(sig, sig),
                    "start": start.strftime("%d.%m.%Y %H:%M")},
        ))
    return out


def _top_paths(ctx: Context, key: str, alert: dict[str, Any]) -> list[dict[str, Any]]:
    from amtspuls.store.signals import top_paths

    def utc(iso: str) -> datetime:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(
            ZoneInfo("UTC")).replace(tzinfo=None)

    ev = alert["evidence"]
    lo = utc(alert["start"])
    hi = utc(ev.get("window_end") or alert.get("end") or alert["start"])
    hi = max(hi, lo + timedelta(hours=1))
    return top_paths(ctx.store, ctx.site.id, key, lo, hi)


def forecast_peak(ctx: Context) -> list[Finding]:
    from amtspuls.analyze.forecast import forecast_site

    try:
        fc = forecast_site(ctx.store, ctx.site, horizon=14)
    except UserError as exc:  # too little history: nothing to say about the future
        log.info("no forecast for %s: %s", ctx.site.domain, exc)
        return []
    recent = {r["service_id"]: r["visits"] for r in ctx.report("services")["services"]}
    out = []
    for s in fc["services"]:
        sid = s["service_id"]
        days = [d for d in s.get("visits", []) if date.fromisoformat(d["date"]) > ctx.day_to]
        week = days[:7]
        if len(week) < 7 or sid not in recent:
            continue
        usual = recent[sid] / ctx.weeks
        mean = sum(d["mean"] for d in week)
        lower = sum(d["lo80"] for d in week)
        if lower < PEAK_RATIO * usual or mean - usual < 2 * ctx.k:
            continue
        first = date.fromisoformat(week[0]["date"])
        out.append(Finding(
            kind="forecast_peak", service_id=sid, subject=first.isoformat(),
            evidence=[evidence("forecast_visits_week", round(mean, 1), round(usual, 1),
                               f"{first.isoformat()}/{week[-1]['date']}", [],
                               lo80=round(lower, 1))],
            visits_per_week=mean - usual,
            confidence=round(min(0.9, 0.5 + 0.4 * min(1.0, (lower / usual - 1))), 3),
            params={"service": ctx.service_name(sid), "week": first.strftime("%d.%m."),
                    "forecast": number_de(mean, 0), "usual": number_de(usual, 0),
                    "signal": "Besuche", "signal_en": "visits"},
        ))
    return out


def _seasons(ctx: Context) -> list[dict[str, Any]]:
    text = resources.files("amtspuls.data").joinpath("recommend/seasons.toml").read_text("utf-8")
    entries = {(e["service"], e["start"]): e for e in tomllib.loads(text)["season"]}
    own = ctx.settings.data_dir / "seasons.toml"
    if own.is_file():
        try:
            for e in tomllib.loads(own.read_text("utf-8")).get("season", []):
                entries[(e["service"], e["start"])] = e
        except (tomllib.TOMLDecodeError, KeyError) as exc:
            raise UserError(f"{own}: {exc}") from None
    return list(entries.values())


def _next_start(month_day: str, after: date) -> date:
    m, d = (int(x) for x in month_day.split("-"))
    for year in (after.year, after.year + 1):
        start = date(year, m, d)
        if start > after:
            return start
    return date(after.year + 1, m, d)


def seasonal_demand(ctx: Context) -> list[Finding]:
    from amtspuls.store.signals import daily_service_demand

    history: dict[str, dict[date, int]] = {}
    for day, sid, visits, _forms in daily_service_demand(ctx.store, ctx.site.id,
                                                         ctx.site.timezone):
        history.setdefault(sid, {})[day] = visits
    recent = {r["service_id"]: r["visits"] for r in ctx.report("services")["services"]}
    out = []
    for season in _seasons(ctx):
        sid = season["service"]
        if sid not in ctx.mapper.services or sid not in recent:
            continue
        start = _next_start(season["start"], ctx.day_to)
        if (start - ctx.day_to).days > SEASON_LEAD_DAYS:
            continue
        usual = recent[sid] / ctx.weeks
        last = history.get(sid, {})
        ly_from = start - timedelta(days=364)
        ly = [last.get(ly_from + timedelta(days=i)) for i in range(14)]
        if all(v is not None for v in ly):
            before = [last.get(ly_from - timedelta(days=28 - i), 0) for i in range(28)]
            ly_week, before_week = sum(ly) / 2, sum(before) / 4  # type: ignore[arg-type]
            if ly_week < PEAK_RATIO * max(before_week, 1):
                continue  # last year's data does not show the season here
            expected, conf = ly_week - before_week, confidence_of(0.0, ly_week)
        else:
            expected, conf = usual * 0.25, 0.15  # calendar only: the uplift is unknown
        out.append(Finding(
            kind="seasonal_demand", service_id=sid, subject=f"{start.isoformat()}",
            evidence=[evidence("visits_per_week", round(usual, 1), None,
                               ctx.period, [], season_start=start.isoformat(),
                               reason=season.get("reason_de", ""))],
            visits_per_week=expected, confidence=conf,
            params={"service": ctx.service_name(sid), "week": start.strftime("%d.%m.%Y"),
                    "reason": season.get("reason_de", "")},
        ))
    return out


RULES = (demand_spikes, forecast_peak, seasonal_demand)
