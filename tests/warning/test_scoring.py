"""Tail probabilities: checked against sums of the probability mass computed here with
plain math (no scipy), including the low-count cases a z-score gets wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest

from amtspuls.analyze.detect.scoring import tail_down, tail_up, zscore


def nb_pmf(k: int, mu: float, r: float) -> float:
    p = r / (r + mu)
    return math.exp(math.lgamma(k + r) - math.lgamma(r) - math.lgamma(k + 1)
                    + r * math.log(p) + k * math.log1p(-p))


def poisson_pmf(k: int, mu: float) -> float:
    return math.exp(-mu + k * math.log(mu) - math.lgamma(k + 1))


@pytest.mark.parametrize(("k", "mu", "r"), [(3, 0.2, 5.0), (10, 4.0, 20.0), (0, 3.0, 2.0),
                                            (50, 20.0, 1e6), (1, 0.01, 1.0)])
def test_tails_match_summed_mass(k, mu, r):
    up = sum(nb_pmf(i, mu, r) for i in range(k, k + 3000))
    down = sum(nb_pmf(i, mu, r) for i in range(k + 1))
    assert tail_up(np.array([k]), np.array([mu]), np.array([r]))[0] == pytest.approx(up, rel=1e-5)
    assert tail_down(np.array([k]), np.array([mu]), np.array([r]))[0] == pytest.approx(
        down, rel=1e-6)


def test_large_shape_is_poisson():
    k, mu = 12, 4.0
    poisson_up = sum(poisson_pmf(i, mu) for i in range(k, k + 300))
    got = tail_up(np.array([k]), np.array([mu]), np.array([1e9]))[0]
    assert got == pytest.approx(poisson_up, rel=1e-4)


def test_low_counts_are_not_z_scores():
    # Three events where 0.2 were expected: rare (p ≈ 0.001), though a z-score of 6.3
    # would call it "six sigma"; three where 2 were expected: common.
    rare = tail_up(np.array([3]), np.array([0.2]), np.array([1e6]))[0]
    common = tail_up(np.array([3]), np.array([2.0]), np.array([1e6]))[0]
    assert 5e-4 < rare < 2e-3
    assert common > 0.3
    assert zscore(np.array([3.0]), np.array([0.2]), np.array([1e6]))[0] > 6


def test_overdispersion_widens_tails():
    k, mu = np.array([30]), np.array([15.0])
    assert tail_up(k, mu, np.array([5.0]))[0] > 100 * tail_up(k, mu, np.array([1e6]))[0]
