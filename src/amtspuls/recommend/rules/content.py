"""Content: broken internal links, and PDF forms downloaded often for a service that has
no online form."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from amtspuls.catalog import service_for_path
from amtspuls.recommend.findings import NONE, Context, Finding, confidence_of, evidence

# Share of a 404's hits that must come from the site's own pages: then it is the site's
# link that is broken, not a mistyped or outdated external link.
INTERNAL_SHARE = 0.5
# Service names that describe something to apply for or register (a transaction),
# as opposed to information such as a calendar or opening hours.
TRANSACTION = re.compile(
    r"(beantrag|antrag|anmeld|abmeld|ummeld|melden|bestell|zulass|genehmig|erlaubnis|"
    r"registr|einreich|reserv|buch|kündig|erteil|ausstell)", re.IGNORECASE)


def _service_of(ctx: Context, path: str) -> str:
    sid = service_for_path(path)
    return sid if sid in ctx.mapper.services else NONE


def broken_link(ctx: Context) -> list[Finding]:
    out = []
    for r in ctx.report("not-found"):
        hits, internal = int(r["hits"]), int(r.get("internal_hits") or 0)
        if (r.get("visitors") or 0) < ctx.k or internal < ctx.k or internal < INTERNAL_SHARE * hits:
            continue
        refs = [x for x in r.get("referrers", []) if x.get("referrer_path")]
        sid = _service_of(ctx, r["path"])
        if sid == NONE and refs:
            sid = _service_of(ctx, refs[0]["referrer_path"])
        share = internal / hits
        out.append(Finding(
            kind="broken_link", service_id=sid, subject=r["path"],
            evidence=[evidence("not_found_hits", internal, 0, ctx.period,
                               [{"text": x["referrer_path"], "count": int(x["hits"]),
                                 "public": True} for x in refs[:5]],
                               path=r["path"], all_hits=hits)],
            visits_per_week=internal / ctx.weeks,
            # a 404 reached from the own pages is certain; the only doubt is volume
            confidence=round(min(0.99, 0.6 + 0.4 * share) * confidence_of(0.0, internal), 3),
            params={"path": r["path"], "n": internal,
                    "examples": ", ".join(x["referrer_path"] for x in refs[:3]) or "–"},
            metric={"name": "not_found_hits", "service_id": sid, "path": r["path"]},
        ))
    return out


def pdf_without_online(ctx: Context) -> list[Finding]:
    services = {r["service_id"]: r for r in ctx.report("services")["services"]
                if r.get("service_id")}
    per: dict[str, dict] = {}
    for r in ctx.report("downloads"):
        path = urlsplit(r.get("target") or "").path
        if not path.lower().endswith(".pdf") or (r.get("visitors") or 0) < ctx.k:
            continue
        sid = _service_of(ctx, path)
        svc = ctx.mapper.services.get(sid)
        if svc is None or not TRANSACTION.search(svc.name_de):
            continue
        if (services.get(sid) or {}).get("form_starts"):
            continue  # an online form exists and is used
        best = per.get(sid)
        if best is None or r["downloads"] > best["downloads"]:
            per[sid] = {"path": path, "downloads": int(r["downloads"]),
                        "visitors": int(r["visitors"])}
    out = []
    for sid, r in per.items():
        if r["downloads"] / ctx.weeks < ctx.k:
            continue
        out.append(Finding(
            kind="pdf_without_online", service_id=sid, subject=r["path"],
            evidence=[evidence("pdf_downloads", r["downloads"], 0, ctx.period,
                               [{"text": r["path"], "count": r["visitors"], "public": True}],
                               online_form_starts=0)],
            visits_per_week=r["downloads"] / ctx.weeks,
            # a structural fact, certain in itself; the benefit of going online is not
            confidence=round(0.5 * confidence_of(0.0, r["downloads"]), 3),
            params={"service": ctx.service_name(sid), "path": r["path"],
                    "n": r["downloads"]},
        ))
    return out


RULES = (broken_link, pdf_without_online)
