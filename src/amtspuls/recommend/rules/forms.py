"""Forms: a field with a high error rate, a form abandoned (at one step), a form that
fails on mobile devices only."""

from __future__ import annotations

from collections import defaultdict

from amtspuls.recommend.findings import (
    NONE,
    Context,
    Finding,
    binom_excess_p,
    confidence_of,
    evidence,
    robust_upper,
    significant,
    typical,
)
from amtspuls.recommend.texts import percent_de
from amtspuls.store import recommendations as rq

# How far (robust standard deviations) a field or form must lie outside the spread of
# the site's fields or forms.
OUTLIER_Z = 2.5
# Mobile success must fall this far (absolute) below desktop success.
MOBILE_GAP = 0.15
MIN_STARTS = 20


def _forms(ctx: Context) -> dict[str, dict]:
    return {r["form"]: r for r in ctx.report("forms")["forms"]
            if r.get("starts") and (r.get("visitors") or 0) >= ctx.k and "folded_rows" not in r}


def form_field_errors(ctx: Context) -> list[Finding]:
    forms = _forms(ctx)
    fields = [r for r in ctx.report("forms")["fields"]
              if r.get("form") in forms and (r.get("visitors") or 0) >= ctx.k
              and r.get("error_rate") is not None]
    base = typical([r["error_rate"] for r in fields])
    upper = robust_upper([r["error_rate"] for r in fields], "logit", OUTLIER_Z)
    if not base or upper is None:
        return []
    out = []
    for r in fields:
        form = forms[r["form"]]
        started = round(r["sessions"] / r["error_rate"]) if r["error_rate"] else 0
        if started < MIN_STARTS or r["error_rate"] < upper:
            continue
        p = binom_excess_p(r["sessions"], started, base)
        if not significant(p, len(fields)):
            continue
        sid = form.get("service_id") or NONE
        excess = r["sessions"] - base * started
        out.append(Finding(
            kind="form_field_errors", service_id=sid, subject=f"{r['form']}|{r['field']}",
            evidence=[evidence("field_error_rate", round(r["error_rate"], 4), round(base, 4),
                               ctx.period, [{"text": r["field"], "count": r["visitors"]}],
                               form=r["form"], sessions_with_error=r["sessions"],
                               form_starts=started, p_value=p)],
            visits_per_week=excess / ctx.weeks, confidence=confidence_of(p, r["sessions"]),
            params={"service": ctx.service_name(sid), "field": r["field"],
                    "rate": percent_de(r["error_rate"]), "baseline": percent_de(base)},
            metric={"name": "field_error_rate", "service_id": sid, "form": r["form"],
                    "field": r["field"]},
        ))
    return out


def form_abandonment(ctx: Context) -> list[Finding]:
    forms = [f for f in _forms(ctx).values() if f.get("abandonment_rate") is not None]
    base = typical([f["abandonment_rate"] for f in forms])
    upper = robust_upper([f["abandonment_rate"] for f in forms], "logit", OUTLIER_Z)
    if not base or upper is None:
        return []
    lo, hi = ctx.window
    steps: dict[str, list[dict]] = defaultdict(list)
    for s in rq.abandon_steps(ctx.store, ctx.site.id, lo, hi):
        steps[s["form"]].append(s)
    out = []
    for f in forms:
        started = f["sessions"]
        abandoned = round(f["abandonment_rate"] * started)
        if started < MIN_STARTS or f["abandonment_rate"] < upper:
            continue
        p = binom_excess_p(abandoned, started, base)
        if not significant(p, len(forms)):
            continue
        sid = f.get("service_id") or NONE
        top = [s for s in steps.get(f["form"], []) if s["field"] and s["visitors"] >= ctx.k]
        step = top[0]["field"] if top and top[0]["sessions"] >= 0.3 * abandoned else ""
        out.append(Finding(
            kind="form_abandonment", service_id=sid, subject=f["form"],
            evidence=[evidence("abandonment_rate", round(f["abandonment_rate"], 4),
                               round(base, 4), ctx.period,
                               [{"text": s["field"], "count": s["visitors"]} for s in top[:3]],
                               form=f["form"], sessions_started=started,
                               sessions_abandoned=abandoned, p_value=p)],
            visits_per_week=(abandoned - base * started) / ctx.weeks,
            confidence=confidence_of(p, abandoned),
            params={"service": ctx.service_name(sid),
                    "rate": percent_de(f["abandonment_rate"]), "baseline": percent_de(base),
                    "step": f", meist nach einem Fehler im Feld „{step}“" if step else "",
                    "step_en": f", mostly after an error at “{step}”" if step else ""},
            metric={"name": "abandonment_rate", "service_id": sid, "form": f["form"]},
        ))
    return out


def mobile_problem(ctx: Context) -> list[Finding]:
    lo, hi = ctx.window
    per: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in rq.form_sessions_by_device(ctx.store, ctx.site.id, lo, hi):
        per[r["form"]][r["device"]] = r
    forms = _forms(ctx)
    out = []
    for form, dev in per.items():
        m, d = dev.get("mobile"), dev.get("desktop")
        if not m or not d or form not in forms:
            continue
        if min(m["started"], d["started"]) < MIN_STARTS or min(m["visitors"],
                                                                d["visitors"]) < ctx.k:
            continue
        sm, sd = m["submitted"] / m["started"], d["submitted"] / d["started"]
        if sd - sm < MOBILE_GAP:
            continue
        # failures on mobile against the desktop failure rate
        p = binom_excess_p(m["started"] - m["submitted"], m["started"], 1 - sd)
        if not significant(p, len(per)):
            continue
        sid = forms[form].get("service_id") or NONE
        excess = (sd - sm) * m["started"]
        out.append(Finding(
            kind="mobile_problem", service_id=sid, subject=form,
            evidence=[evidence("mobile_success_rate", round(sm, 4), round(sd, 4), ctx.period,
                               [], form=form, mobile_starts=m["started"],
                               desktop_starts=d["started"], p_value=p)],
            visits_per_week=excess / ctx.weeks, confidence=confidence_of(p, m["started"]),
            params={"service": ctx.service_name(sid), "rate": percent_de(sm),
                    "baseline": percent_de(sd)},
            metric={"name": "abandonment_rate", "service_id": sid, "form": form},
        ))
    return out


RULES = (form_field_errors, form_abandonment, mobile_problem)
