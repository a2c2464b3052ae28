"""Tail probabilities of counts under a negative-binomial (gamma-Poisson) expectation.

A window's count K is scored against its expected count M with shape r (variance
M + M²/r; r → ∞ is Poisson). Low counts get exact tails, never a z-score: three events
where 0.2 were expected are rare, three where 2 were expected are not."""

from __future__ import annotations

import numpy as np
from scipy import stats

MAX_SHAPE = 1e6
TINY = 1e-300


def tail_up(k: np.ndarray, mu: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """P(X >= k) for X ~ NB(mean mu, shape)."""
    r = np.minimum(np.asarray(shape, dtype=np.float64), MAX_SHAPE)
    mu = np.maximum(np.asarray(mu, dtype=np.float64), 1e-12)
    p = r / (r + mu)
    return np.maximum(stats.nbinom.sf(np.asarray(k) - 1, r, p), TINY)


def tail_down(k: np.ndarray, mu: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """P(X <= k) for X ~ NB(mean mu, shape)."""
    r = np.minimum(np.asarray(shape, dtype=np.float64), MAX_SHAPE)
    mu = np.maximum(np.asarray(mu, dtype=np.float64), 1e-12)
    p = r / (r + mu)
    return np.maximum(stats.nbinom.cdf(np.asarray(k), r, p), TINY)


def zscore(k: np.ndarray, mu: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """A cheap screen: (k - mu) / sd under the same distribution."""
    var = mu + mu * mu / np.minimum(shape, MAX_SHAPE)
    return (k - mu) / np.sqrt(var + 1e-9)
