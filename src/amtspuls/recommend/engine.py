"""Findings → ranked, stored recommendations; their lifecycle; their proof.

A run evaluates every rule over the analysis window (by default the 28 days up to the
last day with data), gives each finding a stable id (site, kind, service, subject), and
stores it: the same finding in a later run updates its row instead of adding one.
Ranking: expected impact (affected visits per week + 5 × affected requests per week)
times confidence.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

from amtspuls.config import Settings
from amtspuls.errors import UserError
from amtspuls.model import Site
from amtspuls.recommend.findings import Context, Finding
from amtspuls.recommend.proof import measure
from amtspuls.recommend.rules import RULES
from amtspuls.recommend.texts import KIND_LABELS, render
from amtspuls.store import DuckDBStore
from amtspuls.store import recommendations as rq

WINDOW_DAYS = 28
# A dismissed finding comes back when its main figure grows by this factor.
REOPEN_GROWTH = 1.5
# Allowed status changes (from → to).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("accepted", "done", "dismissed"),
    "accepted": ("done", "dismissed", "open"),
    "done": ("open",),
    "dismissed": ("open",),
}
PUBLIC_KEYS = ("id", "kind", "service_id", "department", "title", "action", "evidence",
               "impact", "confidence", "status", "created")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def rec_id(site: Site, f: Finding) -> str:
    raw = f"{site.id}|{f.kind}|{f.service_id}|{f.subject}".encode()
    return "rec-" + hashlib.sha256(raw).hexdigest()[:12]


def analysis_window(store: DuckDBStore, site: Site, date_from: date | None,
                    date_to: date | None) -> tuple[date, date]:
    from amtspuls.analyze.reports import local_range

    if date_to is not None and date_from is None:
        date_from = date_to - timedelta(days=WINDOW_DAYS - 1)
    if date_from is None:
        _, date_to = local_range(site, None, date_to, store)
        date_from = date_to - timedelta(days=WINDOW_DAYS - 1)
    return local_range(site, date_from, date_to, store)


def _record(ctx: Context, f: Finding) -> dict[str, Any]:
    title, action = render(f.kind, f.params, "de")
    title_en, action_en = render(f.kind, f.params, "en")
    for ev in f.evidence:
        # defence in depth: nothing visitors typed or did is cited below k; the site's own
        # pages and public places (marked `public`) are not visitor data
        ev["examples"] = [e for e in ev.get("examples", [])
                          if e.get("public") or (e.get("count") or 0) >= ctx.k]
    return {
        "id": rec_id(ctx.site, f), "kind": f.kind, "service_id": f.service_id,
        "subject": f.subject, "department": ctx.department(f.service_id),
        "title": title, "action": action, "title_en": title_en, "action_en": action_en,
        "evidence": f.evidence,
        "impact": {"affected_visits_per_week": round(f.visits_per_week, 1),
                   "affected_requests_per_week": round(f.requests_per_week, 2)},
        "confidence": f.confidence, "score": round(f.score, 3), "metric": f.metric,
        "main_value": f.main_value,
    }


def run(store: DuckDBStore, site: Site, settings: Settings, date_from: date | None = None,
        date_to: date | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Evaluate every rule, store the findings, refresh the proofs; the visible list."""
    now = now or _now()
    d_from, d_to = analysis_window(store, site, date_from, date_to)
    ctx = Context(store, site, settings, d_from, d_to, now)
    found: dict[str, dict[str, Any]] = {}
    for rule in RULES:
        for f in rule(ctx):
            if not f.evidence:
                continue  # never a recommendation without evidence
            rec = _record(ctx, f)
            if rec["id"] not in found or rec["score"] > found[rec["id"]]["score"]:
                found[rec["id"]] = rec
    for rid, old, new in rq.save_run(store, site.id, list(found.values()), now,
                                     REOPEN_GROWTH):
        note = ("Evidenz gewachsen" if old == "dismissed" else
                "neu gefunden, wie eine verworfene Empfehlung dieser Art für diese Leistung"
                if new == "dismissed" else "neu gefunden")
        rq.log_event(store, rid, old, new, "amtspuls", note)
    refresh_proofs(store, site, d_to)
    return list_recommendations(store, site)


def refresh_proofs(store: DuckDBStore, site: Site, last_day: date) -> None:
    for r in rq.list_all(store, site.id, statuses=["done"]):
        if r["effective"] is not None:
            rq.save_effect(store, r["id"], measure(store, site, r["metric"], r["effective"],
                                                   last_day, about=_about(r["metric"])))


def _about(metric: dict[str, Any] | None) -> str:
    """What a proof measured, in German: the field and the service."""
    if not metric:
        return ""
    from amtspuls.catalog import by_id

    svc = by_id().get(metric.get("service_id") or "")
    name = svc.name_de if svc else ""
    if metric.get("field"):
        return f"„{metric['field']}“" + (f" ({name})" if name else "")
    if metric.get("path"):
        return metric["path"]
    return f"für {name}" if name else ""


def public(rec: dict[str, Any]) -> dict[str, Any]:
    out = {k: rec[k] for k in PUBLIC_KEYS}
    out["created"] = _iso(rec["created"])
    out.update({
        "kind_label": KIND_LABELS.get(rec["kind"], rec["kind"]), "subject": rec["subject"],
        "title_en": rec["title_en"], "action_en": rec["action_en"],
        "score": rec["score"], "active": rec["active"], "updated": _iso(rec["updated"]),
        "status_changed": _iso(rec["status_changed"]), "reason": rec["reason"],
        "effective": rec["effective"].isoformat() if rec["effective"] else None,
        "effect": rec["effect"],
    })
    if rec.get("wording"):
        out["wording"] = rec["wording"]
    return out


def _iso(t: datetime | None) -> str | None:
    return t.isoformat(timespec="seconds") + "Z" if t else None


def list_recommendations(store: DuckDBStore, site: Site, status: str | None = None,
                         limit: int | None = None, service: str | None = None
                         ) -> list[dict[str, Any]]:
    """Ranked by impact × confidence. Default: the open and accepted ones of the latest
    run, then the done ones (with their proof); dismissed only when asked for."""
    if status is not None and status not in rq.STATUSES:
        raise UserError(f"unknown status {status!r}; known: {', '.join(rq.STATUSES)}")
    if status:
        rows = rq.list_all(store, site.id, [status], active_only=status in ("open",
                                                                            "accepted"))
    else:
        rows = (rq.list_all(store, site.id, ["open", "accepted"], active_only=True)
                + rq.list_all(store, site.id, ["done"]))
    if service:
        rows = [r for r in rows if r["service_id"] == service]
    out = [public(r) for r in rows]
    return out[:limit] if limit else out


def get_recommendation(store: DuckDBStore, site: Site, rid: str) -> dict[str, Any]:
    rec = rq.get(store, site.id, rid)
    if rec is None:
        raise UserError(f"no recommendation {rid!r} for {site.domain}")
    out = public(rec)
    out["history"] = [{**h, "ts": _iso(h["ts"])} for h in rq.history(store, rid)]
    return out


def set_status(store: DuckDBStore, site: Site, rid: str, status: str, actor: str | None,
               reason: str | None = None, effective: date | None = None,
               last_day: date | None = None) -> dict[str, Any]:
    """Move a recommendation through its lifecycle; `done` measures its effect from the
    day it went live (`effective`, default today) as data arrives."""
    rec = rq.get(store, site.id, rid)
    if rec is None:
        raise UserError(f"no recommendation {rid!r} for {site.domain}")
    if status not in rq.STATUSES:
        raise UserError(f"unknown status {status!r}; known: {', '.join(rq.STATUSES)}")
    old = rec["status"]
    if status == old:
        return get_recommendation(store, site, rid)
    if status not in TRANSITIONS[old]:
        raise UserError(f"a recommendation that is {old!r} cannot become {status!r} "
                        f"(allowed: {', '.join(TRANSITIONS[old])})")
    reason = (reason or "").strip() or None
    if status == "dismissed" and not reason:
        raise UserError("dismissing needs a reason (--reason)")
    if reason and len(reason) > 500:
        raise UserError("the reason is longer than 500 characters")
    from amtspuls.privacy.pii import scrub

    reason = scrub(reason) if reason else None
    now = _now()
    eff = None
    if status == "done":
        eff = effective or now.date()
        if eff > now.date():
            raise UserError(f"--date {eff} lies in the future; mark it done once it is live")
    dismissed_value = None
    if status == "dismissed" and rec["evidence"]:
        dismissed_value = float(rec["evidence"][0].get("value") or 0)
    rq.set_status(store, rid, status, now, reason, eff, dismissed_value)
    rq.log_event(store, rid, old, status, actor, reason)
    if status == "done":
        from amtspuls.analyze.reports import local_range

        last = last_day or local_range(site, None, None, store)[1]
        rq.save_effect(store, rid, measure(store, site, rec["metric"], eff, last,
                                           about=_about(rec["metric"])))
    return get_recommendation(store, site, rid)


def request_days(store: DuckDBStore, site: Site) -> dict[str, date]:
    """Local day of every stored service request (for evaluations against a truth)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(site.timezone)
    rows = rq.request_times(store, site.id)
    return {r["service_request_id"]: r["requested_datetime"].replace(tzinfo=UTC)
            .astimezone(tz).date() for r in rows}
