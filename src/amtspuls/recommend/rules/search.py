"""Findability: searches without results per service, many searches before a form, and
growing search topics the site has no content for."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from amtspuls.recommend.findings import (
    NONE,
    Context,
    Finding,
    binom_excess_p,
    confidence_of,
    evidence,
    poisson_excess_p,
    robust_upper,
    significant,
    typical,
)
from amtspuls.recommend.texts import number_de, quoted_list

# How far (robust standard deviations) a service must lie outside the spread of the
# site's services.
OUTLIER_Z = 2.5
# Services need this many completed forms before their search ratio is judged.
MIN_SUBMITS = 20
# A topic grows when last week's searches reach this multiple of the weekly mean before.
GROWTH_RATIO = 2.0
# A topic "has no content" when most of its searches find nothing.
NO_CONTENT_SHARE = 0.5


def zero_results(ctx: Context) -> list[Finding]:
    rows = [r for r in ctx.report("search")["top_queries"]
            if r.get("service_id") not in (None, NONE) and (r.get("visitors") or 0) >= ctx.k]
    total = sum(r["searches"] for r in rows)
    zero_total = sum(r["no_results"] for r in rows)
    if not total:
        return []
    base = zero_total / total
    per: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        per[r["service_id"]].append(r)
    shares = {sid: sum(r["no_results"] for r in qs) / sum(r["searches"] for r in qs)
              for sid, qs in per.items()}
    upper = robust_upper(list(shares.values()), "logit", OUTLIER_Z)
    if upper is None:
        return []
    out = []
    for sid, qs in per.items():
        n = sum(r["searches"] for r in qs)
        zero = sum(r["no_results"] for r in qs)
        if zero < 2 * ctx.k or shares[sid] < max(upper, 2 * base):
            continue
        p = binom_excess_p(zero, n, base)
        if not significant(p, len(per)):
            continue
        examples = [{"text": r["query"], "count": r["visitors"]}
                    for r in sorted(qs, key=lambda r: -r["no_results"]) if r["no_results"]]
        out.append(Finding(
            kind="zero_results", service_id=sid, subject="",
            evidence=[evidence("zero_result_searches", zero, round(base * n, 1), ctx.period,
                               examples[:5], searches=n, p_value=p)],
            visits_per_week=zero / ctx.weeks, confidence=confidence_of(p, zero),
            params={"service": ctx.service_name(sid), "n": zero,
                    "examples": quoted_list([e["text"] for e in examples])},
            metric={"name": "zero_result_rate", "service_id": sid,
                    "queries": [r["query"] for r in qs]},
        ))
    return out


def search_before_form(ctx: Context) -> list[Finding]:
    rows = [r for r in ctx.report("search")["searches_per_completed_form"]
            if r.get("service_id") not in (None, NONE) and (r.get("visitors") or 0) >= ctx.k
            and r["form_submits"] >= MIN_SUBMITS]
    values = [r["searches"] / r["form_submits"] for r in rows]
    base, upper = typical(values), robust_upper(values, "log", OUTLIER_Z)
    if not base or upper is None:
        return []
    out = []
    for r in rows:
        sid, submits, searches = r["service_id"], r["form_submits"], r["searches"]
        expected = base * submits
        if searches < upper * submits or searches - expected < ctx.k:
            continue
        p = poisson_excess_p(searches, expected)
        if not significant(p, len(rows)):
            continue
        value = searches / submits
        out.append(Finding(
            kind="search_before_form", service_id=sid, subject="",
            evidence=[evidence("searches_per_completed_form", round(value, 3), round(base, 3),
                               ctx.period, [], form_submits=submits, searches=searches,
                               p_value=p)],
            visits_per_week=(searches - expected) / ctx.weeks,
            confidence=confidence_of(p, submits),
            params={"service": ctx.service_name(sid), "value": number_de(value, 2),
                    "baseline": number_de(base, 2)},
            metric={"name": "searches_per_completed_form", "service_id": sid},
        ))
    return out


def growing_topic(ctx: Context) -> list[Finding]:
    """Queries (k-anonymous) whose last week clearly exceeds the weeks before, and that
    mostly find nothing: a need the site does not answer yet."""
    from amtspuls.analyze.reports import utc_window
    from amtspuls.store.needs import NeedsQueries

    last_from = ctx.day_to - timedelta(days=6)
    before_from = ctx.day_from if (last_from - ctx.day_from).days >= 14 else \
        last_from - timedelta(days=21)
    weeks_before = max(1.0, (last_from - before_from).days / 7.0)
    lo, hi = utc_window(ctx.site, last_from, ctx.day_to)
    blo, bhi = utc_window(ctx.site, before_from, last_from - timedelta(days=1))
    last = {r["query"]: r for r in NeedsQueries(ctx.store, ctx.site.id, lo, hi).queries()}
    before = {r["query"]: int(r["searches"])
              for r in NeedsQueries(ctx.store, ctx.site.id, blo, bhi).queries()}
    out = []
    for q, r in last.items():
        n, visitors, zero = int(r["searches"]), int(r["visitors"]), int(r["no_results"])
        if visitors < ctx.k or n < 2 * ctx.k or zero < NO_CONTENT_SHARE * n:
            continue
        mean_before = before.get(q, 0) / weeks_before
        if n < GROWTH_RATIO * max(mean_before, 1.0):
            continue
        p = poisson_excess_p(n, max(mean_before, 0.5))
        if not significant(p, len(last)):
            continue
        sid = ctx.mapper.service_of(q)
        out.append(Finding(
            kind="growing_topic", service_id=sid or NONE, subject=q,
            evidence=[evidence("searches_last_week", n, round(mean_before, 1),
                               f"{last_from.isoformat()}/{ctx.day_to.isoformat()}",
                               [{"text": q, "count": visitors}], no_results=zero,
                               p_value=p)],
            visits_per_week=float(n), confidence=confidence_of(p, n),
            params={"topic": q, "n": n, "baseline": number_de(mean_before, 1)},
            metric={"name": "zero_result_rate", "service_id": sid or NONE, "queries": [q]},
        ))
    return out


RULES = (zero_results, search_before_form, growing_topic)
