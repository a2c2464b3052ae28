"""Units of the recommendation stage, against independently computed values."""

from __future__ import annotations

import math
import statistics
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amtspuls.recommend.evaluate import evaluate, expected_problems, matches
from amtspuls.recommend.findings import (
    Finding,
    binom_excess_p,
    confidence_of,
    poisson_excess_p,
    robust_upper,
    significant,
)
from amtspuls.recommend.rules.requests import _clusters, _street
from amtspuls.recommend.texts import TEMPLATES, number_de, render


def test_poisson_excess_is_the_upper_tail() -> None:
    # P(X >= 10) for X ~ Poisson(4), summed by hand
    expected = 1 - sum(math.exp(-4) * 4**i / math.factorial(i) for i in range(10))
    assert poisson_excess_p(10, 4.0) == pytest.approx(expected, rel=1e-9)
    assert poisson_excess_p(0, 4.0) == pytest.approx(1.0)


def test_binomial_excess_is_the_upper_tail() -> None:
    n, k, p = 40, 12, 0.1
    expected = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
    assert binom_excess_p(k, n, p) == pytest.approx(expected, rel=1e-9)


def test_robust_upper_matches_a_hand_computed_mad_threshold() -> None:
    rates = [0.02, 0.03, 0.03, 0.04, 0.05, 0.4]
    logits = [math.log(r / (1 - r)) for r in rates]
    med = statistics.median(logits)
    mad = statistics.median(abs(v - med) for v in logits)
    t = med + 2.5 * max(1.4826 * mad, 0.25)
    assert robust_upper(rates, "logit", 2.5) == pytest.approx(1 / (1 + math.exp(-t)))
    # the outlier does not drag the threshold up to itself
    assert robust_upper(rates, "logit", 2.5) < 0.4
    assert robust_upper([0.1, 0.2], "logit") is None  # too few to know the spread


def test_bonferroni_needs_more_evidence_with_more_candidates() -> None:
    assert significant(0.004, 1)
    assert not significant(0.004, 10)


def test_confidence_grows_with_data_and_significance() -> None:
    assert confidence_of(1e-9, 200) > confidence_of(1e-9, 10)
    assert confidence_of(1e-9, 100) > confidence_of(0.009, 100)
    assert 0 <= confidence_of(0.5, 1) <= 0.99


def test_score_is_impact_times_confidence() -> None:
    f = Finding("broken_link", "x", "/a", [{"value": 1}], visits_per_week=10,
                requests_per_week=2, confidence=0.5)
    assert f.score == pytest.approx((10 + 5 * 2) * 0.5)


def test_german_numbers() -> None:
    assert number_de(1234.5, 1) == "1.234,5"
    assert number_de(0.74, 2) == "0,74"
    assert number_de(412, 1) == "412"


@given(st.sampled_from(sorted(TEMPLATES)), st.dictionaries(
    st.sampled_from(["service", "n", "path", "examples", "field", "rate"]),
    st.text(max_size=20)))
def test_every_template_renders_without_raising(kind: str, params: dict) -> None:
    title, action = render(kind, params)
    assert title and action


def test_street_drops_the_house_number() -> None:
    assert _street("Goethestraße 12, 58511 Musterstadt") == "Goethestraße"
    assert _street("Am Ring 3a") == "Am Ring"


def _req(i: int, service: str, lat: float, lon: float, day: int, grp: str | None = None
         ) -> dict:
    return {"id": f"r{i}", "service_id": service, "lat": lat, "long": lon,
            "ts": datetime(2026, 3, 1) + timedelta(days=day), "address": None,
            "status": "open", "grp": grp}


def test_clusters_join_nearby_reports_of_one_service_only() -> None:
    # ~0.001° latitude ≈ 111 m
    rows = [_req(0, "laterne", 51.0, 7.0, 0), _req(1, "laterne", 51.001, 7.0, 1),
            _req(2, "laterne", 51.0, 7.0005, 2),
            _req(3, "laterne", 51.01, 7.0, 2),          # 1.1 km away
            _req(4, "schlagloch", 51.0, 7.0, 1),        # other service, same spot
            _req(5, "laterne", 51.0, 7.0, 30)]          # a month later
    got = sorted(sorted(rows[i]["id"] for i in c) for c in _clusters(rows))
    assert got == [["r0", "r1", "r2"]]


def test_clusters_take_triage_groups_as_given() -> None:
    rows = [_req(0, "a", 51.0, 7.0, 0, "g"), _req(1, "b", 52.0, 8.0, 1, "g"),
            _req(2, "c", 53.0, 9.0, 9, "g")]
    assert [sorted(c) for c in _clusters(rows)] == [[0, 1, 2]]


TRUTH = {
    "timezone": "Europe/Berlin",
    "findability_problems": [{"service_id": "grundsteuer", "fixed_on": None},
                             {"service_id": "einbuergerung", "fixed_on": "2026-03-10"},
                             {"service_id": "halteverbot", "fixed_on": "2026-01-10"}],
    "form_problems": [{"service_id": "hundesteuer", "field": "chip", "fixed_on": None}],
    "broken_links": [{"path": "/alt", "hits": 40, "service_id": "x"}],
    "incidents": [{"kind": "storm", "service_id": "baum", "services": {"baum": 1.0},
                   "start": "2026-03-12T10:00:00Z"},
                  {"kind": "storm", "service_id": "baum", "start": "2026-01-02T10:00:00Z"}],
    "requests": [{"service_request_id": f"q{i}", "category": "laterne",
                  "duplicate_group": 1} for i in range(3)],
}


def _rec(kind: str, service: str, **extra) -> dict:
    return {"id": f"{kind}-{service}", "kind": kind, "service_id": service, "title": kind,
            "status": "open", "subject": extra.pop("subject", ""),
            "evidence": [{"metric": "m", "value": 1, **extra}]}


def test_expected_problems_follow_the_window() -> None:
    days = {"q0": date(2026, 3, 5), "q1": date(2026, 3, 6), "q2": date(2026, 3, 7)}
    got = expected_problems(TRUTH, date(2026, 3, 1), date(2026, 3, 28), days)
    kinds = sorted((p["type"], p["service_id"], p.get("state", "")) for p in got)
    assert kinds == [("broken_link", "x", ""), ("duplicates", "laterne", ""),
                     ("findability", "einbuergerung", "fixed"),
                     ("findability", "grundsteuer", "expected"),
                     ("form", "hundesteuer", "expected"), ("incident", "baum", "")]


def test_evaluate_counts_recall_and_precision() -> None:
    days = {"q0": date(2026, 3, 5), "q1": date(2026, 3, 6), "q2": date(2026, 3, 7)}
    recs = [_rec("broken_link", "none", subject="/alt"),
            _rec("search_before_form", "grundsteuer"),
            _rec("zero_results", "einbuergerung"),          # fixed in window: founded
            _rec("demand_spike", "baum"),
            _rec("duplicate_cluster", "laterne", requests=["q0", "q2", "zz"]),
            _rec("zero_results", "bibliothek"),              # no problem there
            _rec("seasonal_demand", "hundesteuer")]          # not judged
    res = evaluate(recs, TRUTH, date(2026, 3, 1), date(2026, 3, 28), days)
    # expected: grundsteuer, hundesteuer form, /alt, storm, duplicates → 4 of 5 found
    assert res["expected"] == 5
    assert res["recall"] == pytest.approx(4 / 5, abs=1e-4)
    assert [m["type"] for m in res["missed"]] == ["form"]
    assert res["precision"] == pytest.approx(5 / 6, abs=1e-4)
    assert [u["service_id"] for u in res["unfounded"]] == ["bibliothek"]
    assert res["not_judged"] == 1


def test_a_duplicate_match_needs_two_shared_requests() -> None:
    p = {"type": "duplicates", "service_id": "l", "requests": ["a", "b", "c"]}
    assert matches(p, _rec("duplicate_cluster", "l", requests=["a", "b"]))
    assert not matches(p, _rec("duplicate_cluster", "l", requests=["a", "x"]))
