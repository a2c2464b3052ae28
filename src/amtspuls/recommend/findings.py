"""What a rule finds, the context rules read from, and the statistics they share.

A rule reads only k-anonymous aggregates (every example it cites has at least k distinct
visitors or reports behind it) and returns `Finding`s: a kind, the service it concerns,
the subject inside that service (a form field, a path, a duplicate group), the evidence
and the expected impact. The engine turns findings into stored recommendations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from scipy import stats

from amtspuls.config import Settings
from amtspuls.model import Site
from amtspuls.store import DuckDBStore

NONE = "none"
# A service request costs staff far more than a page visit; ranking weighs one request
# like this many visits.
REQUEST_WEIGHT = 5.0
# Findings must reach this significance against their baseline.
ALPHA = 0.01


@dataclass
class Finding:
    kind: str
    service_id: str
    subject: str
    evidence: list[dict[str, Any]]
    visits_per_week: float = 0.0
    requests_per_week: float = 0.0
    confidence: float = 0.5
    params: dict[str, Any] = field(default_factory=dict)
    # What the before/after proof measures once the recommendation is done.
    metric: dict[str, Any] | None = None

    @property
    def main_value(self) -> float:
        return float(self.evidence[0]["value"]) if self.evidence else 0.0

    @property
    def score(self) -> float:
        return (self.visits_per_week + REQUEST_WEIGHT * self.requests_per_week) * self.confidence


def evidence(metric: str, value: float, baseline: float | None, period: str,
             examples: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"metric": metric, "value": _round(value), "baseline": _round(baseline),
            "period": period, "examples": examples or [], **extra}


def _round(x: float | None) -> float | None:
    if x is None:
        return None
    return int(x) if float(x).is_integer() else round(float(x), 4)


# -- statistics ---------------------------------------------------------------------------

def poisson_excess_p(observed: float, expected: float) -> float:
    """P(X ≥ observed) for X ~ Poisson(expected): how surprising an excess count is."""
    if expected <= 0:
        return 0.0 if observed > 0 else 1.0
    return float(stats.poisson.sf(math.ceil(observed) - 1, expected))


def binom_excess_p(successes: int, trials: int, p0: float) -> float:
    """One-sided binomial test that a rate exceeds p0."""
    if trials <= 0:
        return 1.0
    p0 = min(max(p0, 1e-9), 1 - 1e-9)
    return float(stats.binomtest(successes, trials, p0, alternative="greater").pvalue)


def confidence_of(p_value: float, n: float, scale: float = 30.0) -> float:
    """Confidence in [0, 0.99]: significance, tempered by how much data stands behind it."""
    sig = 1.0 - min(1.0, max(0.0, p_value) / ALPHA) * 0.5 if p_value < ALPHA else 0.3
    volume = 1.0 - math.exp(-max(0.0, n) / scale)
    return round(min(0.99, sig * (0.5 + 0.5 * volume)), 3)


def robust_upper(values: list[float], scale: str = "logit", z: float = 3.0,
                 min_spread: float = 0.25) -> float | None:
    """The level above which a service's rate is an outlier among the site's services:
    median + z robust standard deviations (MAD), on the log or logit scale where rates
    vary multiplicatively. Services differ naturally (an IBAN field fails more often than
    a name field); only a value far outside that spread is a problem."""
    eps = 1e-4
    if scale == "logit":
        fwd = [math.log(min(max(v, eps), 1 - eps) / (1 - min(max(v, eps), 1 - eps)))
               for v in values if v is not None]
    else:
        fwd = [math.log(max(v, eps)) for v in values if v is not None]
    if len(fwd) < 3:
        return None
    med = typical(fwd)
    assert med is not None
    mad = typical([abs(v - med) for v in fwd]) or 0.0
    t = med + z * max(1.4826 * mad, min_spread)
    return 1 / (1 + math.exp(-t)) if scale == "logit" else math.exp(t)


def significant(p_value: float, tests: int) -> bool:
    """Significant after a Bonferroni correction for the candidates a rule tested."""
    return p_value < ALPHA / max(1, tests)


def typical(values: list[float]) -> float | None:
    """The site's usual level of a rate: the median over its services (robust to the few
    that have a problem, which is the point)."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


# -- context ------------------------------------------------------------------------------

@dataclass
class Context:
    """One run of the rules: a site, its analysis window and lazily computed inputs."""

    store: DuckDBStore
    site: Site
    settings: Settings
    day_from: date
    day_to: date
    now: datetime
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return self.settings.k_anonymity

    @property
    def days(self) -> int:
        return (self.day_to - self.day_from).days + 1

    @property
    def weeks(self) -> float:
        return self.days / 7.0

    @property
    def period(self) -> str:
        return f"{self.day_from.isoformat()}/{self.day_to.isoformat()}"

    @cached_property
    def window(self) -> tuple[datetime, datetime]:
        from amtspuls.analyze.reports import utc_window

        return utc_window(self.site, self.day_from, self.day_to)

    @cached_property
    def mapper(self):
        from amtspuls.analyze.search import site_mapper

        return site_mapper(self.store, self.site)

    def service_name(self, service_id: str) -> str:
        svc = self.mapper.services.get(service_id)
        return svc.name_de if svc else service_id

    def department(self, service_id: str) -> str | None:
        svc = self.mapper.services.get(service_id)
        return svc.department if svc else None

    def days_back(self, n: int) -> tuple[date, date]:
        return self.day_from - timedelta(days=n), self.day_from - timedelta(days=1)

    def report(self, name: str) -> Any:
        """A needs report over the window (k-anonymous, as the dashboard shows it)."""
        if name not in self.cache:
            from amtspuls.analyze.reports import run_report

            self.cache[name] = run_report(self.store, self.site, name, self.day_from,
                                          self.day_to, k=self.k, limit=10_000)
        return self.cache[name]
