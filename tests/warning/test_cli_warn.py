"""The CLI contract of detect, forecast and evaluate detect on a small simulated run:
exactly one JSON document with --json, the documented keys, exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from amtspuls.analyze.detect.evaluate import evaluate_alerts

SITE = "www.musterstadt.de"
KEYS = {"signal", "service_id", "start", "end", "observed", "expected", "score", "severity",
        "direction", "evidence"}


def cli(*args: str, timeout: float = 300):
    return subprocess.run([sys.executable, "-m", "amtspuls.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("warn")
    sim, data = root / "sim", root / "data"
    r = cli("simulate", "--out", str(sim), "--days", "22", "--seed", "5",
            "--visits-per-day", "1000", "--json")
    assert r.returncode == 0, r.stderr
    r = cli("--data", str(data), "import-events", str(sim / "events.jsonl.gz"), "--site", SITE,
            "--json")
    assert r.returncode == 0, r.stderr
    return sim, data


@pytest.mark.slow
def test_detect_json(data):
    sim, d = data
    r = cli("--data", str(d), "detect", "--site", SITE, "--from", "2026-01-01", "--to",
            "2026-01-22", "--bundesland", "NW", "--json")
    assert r.returncode == 0, r.stderr
    alerts = json.loads(r.stdout)
    assert isinstance(alerts, list) and alerts
    for a in alerts:
        assert set(a) == KEYS
        assert a["direction"] in ("up", "down") and a["severity"] in ("warning", "critical")
        assert a["evidence"]["detected_at"] and a["evidence"]["message_de"]


@pytest.mark.slow
def test_evaluate_detect_json(data):
    sim, d = data
    r = cli("--data", str(d), "evaluate", "detect", "--site", SITE, "--truth",
            str(sim / "truth.json"), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert {"precision", "recall", "false_alarms_per_30_days", "median_delay_minutes",
            "by_kind"} <= set(res)
    assert res["recall"] >= 0.5
    assert set(res["by_kind"]) <= {"storm", "form_outage", "campaign", "viral_news", "heat"}


@pytest.mark.slow
def test_forecast_json(data):
    _, d = data
    r = cli("--data", str(d), "forecast", "--site", SITE, "--service", "personalausweis",
            "--horizon", "7", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    rows = out["services"][0]["visits"]
    assert len(rows) == 7 and {"date", "mean", "lo80", "hi80", "lo95", "hi95"} <= set(rows[0])


@pytest.mark.parametrize("args", [
    ("detect", "--site", SITE, "--from", "2026-13-01"),
    ("detect", "--site", SITE, "--bundesland", "XX"),
    ("forecast", "--site", SITE, "--horizon", "0"),
    ("forecast", "--site", SITE, "--service", "a", "--all"),
    ("evaluate", "detect", "--site", SITE, "--truth", "/nonexistent/truth.json"),
    ("watch", "--site", SITE, "--once", "--webhook", "ftp://x"),
])
def test_bad_input_exits_2(tmp_path, args):
    r = cli("--data", str(tmp_path), *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("amtspuls: ") and len(r.stderr.strip().splitlines()) == 1


def test_matching_rules():
    inc = [{"kind": "storm", "service_id": "strassensperrung", "start": "2026-01-10T10:00:00Z",
            "end": "2026-01-10T20:00:00Z", "services": {"strassensperrung": 0.5,
                                                        "baum_gefahr": 0.5}},
           {"kind": "viral_news", "service_id": "none", "start": "2026-01-20T10:00:00Z",
            "end": "2026-01-21T10:00:00Z", "path": "/aktuelles/2026/kaenguru"}]

    def alert(svc, start, end, detected, key=None, group=None):
        ev = {"detected_at": detected, "key": key or svc}
        if group:
            ev["page_group"] = group
        return {"signal": "visits", "service_id": svc, "start": start, "end": end,
                "observed": 1, "expected": 1, "score": 9, "severity": "warning",
                "direction": "up", "evidence": ev}

    alerts = [
        alert("baum_gefahr", "2026-01-10T10:20:00Z", "2026-01-10T15:00:00Z",
              "2026-01-10T10:40:00Z"),
        alert("none", "2026-01-20T10:30:00Z", "2026-01-20T12:00:00Z", "2026-01-20T10:50:00Z",
              key="/aktuelles", group="/aktuelles"),
        alert("wohngeld", "2026-01-10T11:00:00Z", "2026-01-10T12:00:00Z",
              "2026-01-10T11:10:00Z"),  # same time, unrelated service: a false alarm
    ]
    res = evaluate_alerts(alerts, inc, days=30)
    assert res["recall"] == 1.0 and res["precision"] == pytest.approx(2 / 3, abs=1e-3)
    assert res["false_alarms_per_30_days"] == 1.0
    assert res["by_kind"]["storm"]["median_delay_minutes"] == 40.0
    assert res["by_kind"]["viral_news"]["median_delay_minutes"] == 50.0
