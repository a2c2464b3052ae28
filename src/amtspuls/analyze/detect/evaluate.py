"""Scoring the detector against a ground truth of injected incidents (the simulator's
truth.json, or a city's own list of known incidents in the same shape).

An alert *matches* an incident when its time span overlaps the incident's (extended by a
grace period for the aftermath: half the incident's duration, at least two hours) and
it is about the incident: the incident's service(s) or form, the page group of its news
path, or a site-wide signal. Recall counts incidents with a matching alert; every alert
that matches no incident is a false alarm. The delay is from the incident's start to the
detection of its first matching alert."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from amtspuls.analyze.signals import SITE
from amtspuls.catalog import NONE, service_for_path

SPIKE_KINDS = ("storm", "campaign", "viral_news", "heat")
DROP_KINDS = ("form_outage",)
MIN_GRACE_MINUTES = 120


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def incident_targets(inc: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(service ids, page groups) an incident is about."""
    services = {inc.get("service_id") or NONE, inc.get("form") or NONE}
    services |= set((inc.get("services") or {}).keys())
    groups: set[str] = set()
    path = inc.get("path")
    if path:
        seg = path.split("?", 1)[0].strip("/").split("/", 1)[0]
        groups.add("/" + seg)
        services.add(service_for_path(path))
    services.discard(NONE)
    return services, groups


def alert_matches(alert: dict[str, Any], inc: dict[str, Any]) -> bool:
    a0 = _t(alert["start"])
    a1 = _t(alert["end"])
    i0 = _t(inc["start"])
    i1 = _t(inc["end"])
    grace = max(MIN_GRACE_MINUTES * 60, (i1 - i0).total_seconds() / 2)
    if a1 < i0 or a0.timestamp() > i1.timestamp() + grace:
        return False
    if _t(alert["evidence"].get("detected_at", alert["start"])) < i0 and a1 < i0:
        return False
    services, groups = incident_targets(inc)
    ev = alert.get("evidence", {})
    if ev.get("key") == SITE:
        return True
    if alert["service_id"] in services:
        return True
    if ev.get("page_group") in groups:
        return True
    return ev.get("category") in services


def evaluate_alerts(alerts: list[dict[str, Any]], incidents: list[dict[str, Any]],
                    days: float) -> dict[str, Any]:
    matched_alerts = [False] * len(alerts)
    details = []
    for inc in incidents:
        hits = []
        for k, al in enumerate(alerts):
            if alert_matches(al, inc):
                matched_alerts[k] = True
                hits.append(al)
        delay = None
        if hits:
            first = min(_t(a["evidence"]["detected_at"]) for a in hits)
            delay = max(0.0, (first - _t(inc["start"])).total_seconds() / 60.0)
        details.append({
            "kind": inc["kind"],
            "service_id": inc.get("service_id", NONE),
            "start": inc["start"],
            "end": inc["end"],
            "magnitude": inc.get("magnitude"),
            "detected": bool(hits),
            "delay_minutes": round(delay, 1) if delay is not None else None,
            "signals": sorted({f"{a['signal']}:{a['evidence'].get('key')}:{a['direction']}"
                               for a in hits}),
        })
    false_alarms = [a for a, m in zip(alerts, matched_alerts, strict=True) if not m]
    n_alerts = len(alerts)

    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        delays = [r["delay_minutes"] for r in rows if r["detected"]]
        return {
            "incidents": len(rows),
            "detected": sum(r["detected"] for r in rows),
            "recall": round(sum(r["detected"] for r in rows) / len(rows), 4) if rows else None,
            "median_delay_minutes": round(statistics.median(delays), 1) if delays else None,
            "delays_minutes": delays,
        }

    by_kind = {}
    for kind in sorted({d["kind"] for d in details}):
        by_kind[kind] = summary([d for d in details if d["kind"] == kind])
    delays = [d["delay_minutes"] for d in details if d["detected"]]
    return {
        "precision": round(sum(matched_alerts) / n_alerts, 4) if n_alerts else None,
        "recall": round(sum(d["detected"] for d in details) / len(details), 4)
        if details else None,
        "false_alarms_per_30_days": round(len(false_alarms) / max(days, 1e-9) * 30.0, 3),
        "median_delay_minutes": round(statistics.median(delays), 1) if delays else None,
        "by_kind": by_kind,
        "by_direction": {
            "spike": summary([d for d in details if d["kind"] not in DROP_KINDS]),
            "drop": summary([d for d in details if d["kind"] in DROP_KINDS]),
        },
        "alerts": n_alerts,
        "false_alarms": len(false_alarms),
        "days": round(days, 2),
        "incidents": details,
        "false_alarm_list": [
            {k: a[k] for k in ("signal", "service_id", "start", "end", "observed", "expected",
                               "score", "direction")} | {"key": a["evidence"].get("key")}
            for a in false_alarms
        ],
    }


def evaluate_detect(store, site, truth: dict[str, Any], cfg=None,
                    session_timeout: int = 30, facts=None) -> dict[str, Any]:
    """Run the detector over everything imported for the site and score it against
    `truth["incidents"]` (only incidents inside the imported range count)."""
    from zoneinfo import ZoneInfo

    from amtspuls.analyze.detect.config import DetectConfig
    from amtspuls.analyze.detect.runner import run_detect
    from amtspuls.store import signals as sq

    cfg = cfg or DetectConfig()
    if cfg.bundesland is None and truth.get("bundesland"):
        cfg.bundesland = truth["bundesland"]
    first, last = sq.event_bounds(store, site.id)
    if first is None:
        from amtspuls.errors import UserError

        raise UserError(f"{site.domain}: no events imported yet")
    tz = ZoneInfo(site.timezone)
    utc = ZoneInfo("UTC")
    d0 = first.replace(tzinfo=utc).astimezone(tz).date()
    d1 = last.replace(tzinfo=utc).astimezone(tz).date()
    alerts = run_detect(store, site, d0, d1, cfg, session_timeout, facts=facts)
    lo, hi = first.replace(tzinfo=utc), last.replace(tzinfo=utc)
    incidents = [i for i in truth.get("incidents", [])
                 if _t(i["start"]) >= lo and _t(i["start"]) <= hi]
    days = (hi - lo).total_seconds() / 86400.0
    return evaluate_alerts(alerts, incidents, days)
