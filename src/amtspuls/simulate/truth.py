"""Ground truth: what really happened in the simulated city, for evaluating the
analytics. Every field is documented in docs/simulator.md."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from amtspuls.simulate.config import SimConfig

if TYPE_CHECKING:
    from amtspuls.simulate.city import City
    from amtspuls.simulate.world import World

INTENT_NAMES = ("service", "news", "events", "browse", "missing")
O_FOUND, O_GAVE_UP, O_SUBMITTED, O_FAILED = range(4)
OUTCOME_NAMES = ("found", "gave_up", "submitted", "failed_at_field")
SUBMIT_FIELD = "_submit"


class Truth:
    def __init__(self, cfg: SimConfig, city: City) -> None:
        self.cfg = cfg
        self.city = city
        n = city.n
        self.sessions_per_day: dict[str, int] = {}
        self.tracked_sessions_per_day: dict[str, int] = {}
        self.intents_per_day: dict[str, dict[str, int]] = {}
        self.outcomes: dict[str, dict[str, Counter]] = {}
        self.search_sum = np.zeros((2, n))
        self.search_cnt = np.zeros((2, n))
        self.form_starts = np.zeros((2, n), dtype=np.int64)
        self.form_submits = np.zeros((2, n), dtype=np.int64)
        self.form_errors: Counter = Counter()  # (service, field id, period)
        self.service_visits = np.zeros((2, n), dtype=np.int64)
        self.queries: dict[str, list[Any]] = {}
        self.query_count = 0
        self.query_typos = 0
        self.broken_hits: Counter = Counter()
        self.broken_bot_hits: Counter = Counter()
        self.bot_lines = 0
        self.human_lines = 0
        self.events = 0
        self.requests: list[dict[str, Any]] = []

    def add_query(self, text: str, intent: str, results: int, typo: bool) -> None:
        self.query_count += 1
        self.query_typos += int(typo)
        q = self.queries.get(text)
        if q is None:
            self.queries[text] = [{intent: 1}, results, typo]
        else:
            q[0][intent] = q[0].get(intent, 0) + 1

    def add_visits(
        self,
        day: date,
        period: int,
        intent: np.ndarray,
        svc: np.ndarray,
        outcome: np.ndarray,
        fail_field: np.ndarray,
        nsearch: np.ndarray,
        tracked: np.ndarray,
    ) -> None:
        key = day.isoformat()
        self.sessions_per_day[key] = self.sessions_per_day.get(key, 0) + len(intent)
        self.tracked_sessions_per_day[key] = self.tracked_sessions_per_day.get(key, 0) + int(
            tracked.sum()
        )
        counts = np.bincount(intent, minlength=len(INTENT_NAMES))
        per = self.intents_per_day.setdefault(key, dict.fromkeys(INTENT_NAMES, 0))
        for i, name in enumerate(INTENT_NAMES):
            per[name] += int(counts[i])
        day_out = self.outcomes.setdefault(key, {})
        names = self.city.field_names
        has = outcome >= 0
        # One key per (service, outcome, field): count them in one pass.
        nf = len(names) + 1
        code = ((svc[has] + 1) * len(OUTCOME_NAMES) + outcome[has]) * nf + (fail_field[has] + 1)
        keys, counts = np.unique(code, return_counts=True)
        for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
            f = k % nf - 1
            o = (k // nf) % len(OUTCOME_NAMES)
            s = k // nf // len(OUTCOME_NAMES) - 1
            sid = self.city.services[s].id if s >= 0 else "none"
            label = OUTCOME_NAMES[o] if o != O_FAILED else f"failed_at_field:{names[f]}"
            day_out.setdefault(sid, Counter())[label] += c
        is_svc = svc >= 0
        np.add.at(self.service_visits[period], svc[is_svc], 1)
        sub = outcome == O_SUBMITTED
        np.add.at(self.search_sum[period], svc[sub], nsearch[sub])
        np.add.at(self.search_cnt[period], svc[sub], 1)

    # ------------------------------------------------------------------ output

    def to_json(self, world: World) -> dict[str, Any]:
        city, cfg, clock = self.city, self.cfg, world.clock
        sid = [s.id for s in city.services]
        total = self.search_sum.sum(axis=0)
        cnt = self.search_cnt.sum(axis=0)
        spcf = {sid[i]: round(float(total[i] / cnt[i]), 4) for i in range(city.n) if cnt[i] > 0}
        queries = {}
        stats = {}
        for text, (intents, results, typo) in sorted(self.queries.items()):
            queries[text] = max(sorted(intents), key=lambda i: intents[i])
            stats[text] = {"n": sum(intents.values()), "results": results, "typo": typo}
            if len(intents) > 1:
                stats[text]["intents"] = dict(sorted(intents.items()))
        fix = cfg.fix_date
        incidents = []
        for inc in world.incidents:
            d = {
                "kind": inc.kind,
                "service_id": sid[inc.service] if inc.service >= 0 else "none",
                "start": clock.iso(inc.start_ms),
                "end": clock.iso(inc.end_ms),
                "magnitude": inc.magnitude,
                "label": inc.label,
            }
            if inc.services:
                d["services"] = {sid[s]: w for s, w in inc.services}
            if inc.news_url:
                d["path"] = city.urls.paths[inc.news_url]
            if inc.kind == "form_outage":
                d["form"] = sid[inc.service]
                d["failed_submissions"] = inc.failed_submissions
            else:
                d["extra_visits"] = inc.extra_visits
            incidents.append(d)
        findability = []
        for p in world.problems.findability:
            before = float(self.search_sum[0, p.service] / max(1, self.search_cnt[0, p.service]))
            after = float(self.search_sum[1, p.service] / max(1, self.search_cnt[1, p.service]))
            findability.append(
                {
                    "service_id": sid[p.service],
                    "nav_success": p.nav_success,
                    "normal_nav_success": p.normal_nav_success,
                    "fixed_on": p.fixed_on.isoformat() if p.fixed_on else None,
                    "searches_per_completed_form": round(
                        float(
                            self.search_sum[:, p.service].sum()
                            / max(1, self.search_cnt[:, p.service].sum())
                        ),
                        4,
                    ),
                    "searches_per_completed_form_before_fix": round(before, 4),
                    "searches_per_completed_form_after_fix": round(after, 4)
                    if p.fixed_on
                    else None,
                }
            )
        forms = []
        fid = city.field_index
        for p in world.problems.forms:
            f = fid[p.field]
            obs = [
                self.form_errors[(p.service, f, k)] / max(1, self.form_starts[k, p.service])
                for k in (0, 1)
            ]
            forms.append(
                {
                    "form": sid[p.service],
                    "service_id": sid[p.service],
                    "field": p.field,
                    "error_rate": p.error_rate,
                    "normal_error_rate": p.normal_error_rate,
                    "fixed_on": p.fixed_on.isoformat() if p.fixed_on else None,
                    "observed_error_rate_before_fix": round(obs[0], 4),
                    "observed_error_rate_after_fix": round(obs[1], 4) if p.fixed_on else None,
                }
            )
        broken = []
        for k, b in enumerate(world.problems.broken):
            broken.append(
                {
                    "path": b.path,
                    "referrers": [city.urls.paths[r] for r in b.referrers],
                    "hits": int(self.broken_hits[k]),
                    "bot_hits": int(self.broken_bot_hits[k]),
                    "service_id": sid[b.service] if b.service >= 0 else "none",
                }
            )
        fixes = []
        for p in world.problems.findability:
            if p.fixed_on:
                fixes.append(
                    {
                        "kind": "findability",
                        "service_id": sid[p.service],
                        "date": p.fixed_on.isoformat(),
                    }
                )
        for p in world.problems.forms:
            if p.fixed_on:
                fixes.append(
                    {
                        "kind": "form",
                        "service_id": sid[p.service],
                        "field": p.field,
                        "date": p.fixed_on.isoformat(),
                    }
                )
        outcomes = {
            d: {s: dict(sorted(c.items())) for s, c in sorted(per.items())}
            for d, per in self.outcomes.items()
        }
        days = [clock.dates[i].isoformat() for i in range(cfg.days)]
        return {
            "version": 1,
            "seed": cfg.seed,
            "start": cfg.start.isoformat(),
            "end": cfg.end.isoformat(),
            "days": cfg.days,
            "bundesland": cfg.bundesland,
            "timezone": cfg.timezone,
            "host": cfg.host,
            "holidays": sorted(
                d.isoformat() for d in world.cal.holidays if cfg.start <= d <= cfg.end
            ),
            "elections": [e.isoformat() for e in cfg.election_dates()],
            "fix_date": fix.isoformat() if fix else None,
            "sessions_per_day": {d: self.sessions_per_day.get(d, 0) for d in days},
            "tracked_sessions_per_day": {d: self.tracked_sessions_per_day.get(d, 0) for d in days},
            "intents_per_day": {d: self.intents_per_day.get(d, {}) for d in days},
            "session_outcomes": outcomes,
            "searches_per_completed_form": spcf,
            "search_queries": queries,
            "search_query_stats": stats,
            "query_count": self.query_count,
            "query_typo_share": round(self.query_typos / max(1, self.query_count), 4),
            "bot_lines": self.bot_lines,
            "human_lines": self.human_lines,
            "total_lines": self.bot_lines + self.human_lines,
            "events": self.events,
            "incidents": incidents,
            "findability_problems": findability,
            "form_problems": forms,
            "broken_links": broken,
            "fixes": fixes,
            "search_synonyms": [
                {"service_id": sid[s], "word": w} for s, w in world.search.synonyms
            ],
            "requests": self.requests,
            "config": cfg.to_dict(),
        }
