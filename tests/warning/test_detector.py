"""The streaming detector on synthetic minute facts: spikes and form outages are found
within the hour, a quiet month raises nothing, scoring minute by minute gives the same
alerts as scoring a day at a time, and the persisted state resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest
from warning_helpers import Synth, minute_at

from amtspuls.analyze.detect.config import DetectConfig
from amtspuls.analyze.detect.detector import Detector
from amtspuls.analyze.signals import VisitCounter

RATES = {"sperrmuell": 400.0, "wohngeld": 120.0, "hundesteuer": 40.0}
DAYS = 24


def run(det: Detector, synth: Synth, lo: int, hi: int, step: int) -> list:
    events = []
    for a in range(lo, hi, step):
        b = min(hi, a + step)
        events.extend(det.process(*synth.facts(a, b), a, b))
    return events


@pytest.fixture(scope="module")
def scenario():
    spike_at = minute_at(17, 9, 10)
    outage_at = minute_at(20, 8, 5)
    synth = Synth(RATES, seed=3,
                  spikes=[("wohngeld", spike_at, spike_at + 240, 4.0)],
                  outages=[("sperrmuell", outage_at, outage_at + 300, 0.9)])
    det = Detector(DetectConfig(), "Europe/Berlin", "NW")
    lo, hi = minute_at(0, 0), minute_at(DAYS, 0)
    events = run(det, synth, lo, hi, 1440)
    alerts = {a["uid"]: a for _, a in events}
    return list(alerts.values()), spike_at, outage_at


def _detected(alert) -> int:
    from datetime import datetime

    t = datetime.fromisoformat(alert["evidence"]["detected_at"].replace("Z", "+00:00"))
    return int(t.timestamp() // 60)


def test_spike_detected_within_an_hour(scenario):
    alerts, spike_at, _ = scenario
    hits = [a for a in alerts if a["service_id"] == "wohngeld" and a["direction"] == "up"]
    assert hits, alerts
    assert 0 <= min(_detected(a) for a in hits) - spike_at <= 60
    a = hits[0]
    assert a["signal"] == "visits"
    assert a["observed"] > 1.5 * a["expected"]
    assert set(a) >= {"signal", "service_id", "start", "end", "observed", "expected", "score",
                      "severity", "direction", "evidence"}


def test_form_outage_detected_as_failed_submissions(scenario):
    alerts, _, outage_at = scenario
    hits = [a for a in alerts if a["service_id"] == "sperrmuell"]
    assert {a["signal"] for a in hits} & {"submit_error_rate", "form_submits"}
    assert min(_detected(a) for a in hits) - outage_at <= 60
    assert any(a["severity"] == "critical" for a in hits)


def test_no_false_alarms_elsewhere(scenario):
    alerts, spike_at, outage_at = scenario
    others = [a for a in alerts
              if not (a["service_id"] == "wohngeld" and abs(_detected(a) - spike_at) < 1440)
              and not (a["service_id"] == "sperrmuell" and abs(_detected(a) - outage_at) < 1440)
              and a["service_id"] != "none"]
    assert others == []


def _slice(facts, a: int, b: int):
    import pyarrow.compute as pc

    pages, counts = facts
    keep_p = pc.and_(pc.greater_equal(pages["minute"], a), pc.less(pages["minute"], b))
    keep_c = pc.and_(pc.greater_equal(counts["minute"], a), pc.less(counts["minute"], b))
    return pages.filter(keep_p), counts.filter(keep_c)


def test_minute_by_minute_equals_daily_chunks():
    spike = (minute_at(9, 10), minute_at(9, 14))
    synth = Synth(RATES, seed=5, spikes=[("hundesteuer", *spike, 6.0)])
    lo, mid, hi = minute_at(0, 0), minute_at(9, 8), minute_at(9, 16)
    history = [synth.facts(a, a + 1440) for a in range(lo, mid - 1440 + 1, 1440)]
    tail_lo = lo + 1440 * len(history)
    tail = synth.facts(tail_lo, hi)

    def replay(step_after_mid: int) -> tuple[Detector, list]:
        det = Detector(DetectConfig(warmup_hours=48), "Europe/Berlin", "NW")
        events = []
        for i, facts in enumerate(history):
            a = lo + 1440 * i
            events += det.process(*facts, a, a + 1440)
        events += det.process(*_slice(tail, tail_lo, mid), tail_lo, mid)
        for a in range(mid, hi, step_after_mid):
            b = min(hi, a + step_after_mid)
            events += det.process(*_slice(tail, a, b), a, b)
        return det, events

    det_a, ev_a = replay(1)
    det_b, ev_b = replay(480)
    assert [(k, a["uid"]) for k, a in ev_a] == [(k, a["uid"]) for k, a in ev_b]
    assert any(a["service_id"] == "hundesteuer" for _, a in ev_a), "the spike is found"
    np.testing.assert_allclose(det_a.A, det_b.A)
    np.testing.assert_allclose(np.diff(det_a.c_n), np.diff(det_b.c_n))


def test_state_round_trip_resumes_exactly():
    synth = Synth(RATES, seed=9)
    det = Detector(DetectConfig(warmup_hours=24), "Europe/Berlin", "NW")
    lo, mid, hi = minute_at(0, 0), minute_at(3, 13, 7), minute_at(3, 18)
    run(det, synth, lo, mid, 1440)
    blob = det.to_bytes()
    copy = Detector.from_bytes(blob)
    facts = synth.facts(mid, hi)
    ev1 = det.process(*facts, mid, hi)
    ev2 = copy.process(*facts, mid, hi)
    assert ev1 == ev2
    np.testing.assert_allclose(det.E, copy.E)
    assert copy.next_minute == hi
    with pytest.raises(ValueError):
        copy.process(*synth.facts(hi + 5, hi + 6), hi + 5, hi + 6)


def test_visit_counter_counts_a_session_once_per_visit():
    vc = VisitCounter(30)
    sess = np.array([1, 1, 1, 2, 1], dtype=np.uint64)
    key = np.array([7, 7, 7, 7, 8])
    minute = np.array([100, 101, 125, 101, 102])
    k, m = vc.count(sess, key, minute, 130)
    assert sorted(zip(k.tolist(), m.tolist(), strict=True)) == [(7, 100), (7, 101), (8, 102)]
    # Next chunk: session 1 on key 7 within 30 minutes of its last page is the same visit,
    # after 30 quiet minutes a new one.
    k, m = vc.count(np.array([1, 1], dtype=np.uint64), np.array([7, 7]),
                    np.array([140, 190]), 200)
    assert sorted(zip(k.tolist(), m.tolist(), strict=True)) == [(7, 190)]


def test_news_shared_on_social_networks_is_found_by_its_entries():
    """A news item going viral: 30 % more readers of the news section, all arriving from
    social networks. Among all readers that takes long to be certain of; among those
    entering from social networks (normally 8 %) it is clear within the hour."""
    start = minute_at(17, 9, 10)
    synth = Synth({"/aktuelles": 1500.0, "wohngeld": 120.0}, seed=4,
                  spikes=[("/aktuelles", start, start + 600, ("social", 1.3))],
                  social={"/aktuelles": 0.08})
    det = Detector(DetectConfig(), "Europe/Berlin", "NW")
    events = run(det, synth, minute_at(0, 0), minute_at(19, 0), 1440)
    alerts = list({a["uid"]: a for _, a in events}.values())
    social = [a for a in alerts if a["signal"] == "social_entries"]
    assert social and social[0]["key"] == "/aktuelles"
    first = min(_detected(a) for a in social)
    assert 0 <= first - start <= 60
    visits = [_detected(a) for a in alerts if a["signal"] == "visits"
              and a["key"] == "/aktuelles"]
    assert not visits or min(visits) > first
    assert social[0]["evidence"]["message_de"].startswith("Besuche über soziale Netzwerke")
    assert [a for a in alerts if abs(_detected(a) - start) > 1440] == []
