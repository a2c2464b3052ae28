"""A simulated run goes through the real import commands without a single malformed line,
and the reports reproduce the truth's totals within the tolerances documented in
docs/simulator.md (sessions per day, bot share, 404s per broken link)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SITE = "www.musterstadt.de"
LOG_SITE = "logs.musterstadt.de"


def cli(data: Path, *args: str) -> dict | list:
    env = {**os.environ, "AMTSPULS_K_ANONYMITY": "1"}  # raw rows: compare every link
    result = subprocess.run(
        [sys.executable, "-m", "amtspuls.cli", "--data", str(data), *args, "--json"],
        capture_output=True, text=True, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def imported(run, tmp_path_factory):
    data = tmp_path_factory.mktemp("imported") / "data"
    # The log goes to a site of its own; the city's host name is its alias (internal links).
    cli(data, "site", "add", LOG_SITE, "--alias", SITE)
    events = cli(data, "import-events", str(run.dir / "events.jsonl.gz"), "--site", SITE)
    logs = cli(data, "import-logs", str(run.dir / "access.log.gz"), "--site", LOG_SITE)
    first = run.config.start.isoformat()
    last = run.config.end.isoformat()
    span = ("--from", first, "--to", last)
    return {
        "events": events,
        "logs": logs,
        "data": data,
        "tracked_days": cli(data, "report", "timeseries", "--site", SITE, *span),
        "log_days": cli(data, "report", "timeseries", "--site", LOG_SITE, *span),
        "not_found": cli(data, "report", "not-found", "--site", LOG_SITE, *span,
                         "--limit", "10000"),
    }


def test_no_malformed_line(run, imported):
    events, logs = imported["events"], imported["logs"]
    assert events["malformed"] == 0 and events["lines"] == len(run.raw_events)
    assert logs["malformed"] == 0 and logs["lines"] == len(run.raw_log)
    assert logs["imported"] == logs["lines"]


def _per_day(rows: list[dict]) -> dict[str, int]:
    return {r["period"][:10]: r["visits"] for r in rows}


def test_tracked_sessions_per_day(run, imported):
    truth = run.truth["tracked_sessions_per_day"]
    got = _per_day(imported["tracked_days"])
    assert set(got) == set(truth)
    for day, expected in truth.items():
        assert abs(got[day] - expected) <= max(2, 0.01 * expected), day
    assert abs(sum(got.values()) - sum(truth.values())) <= 0.01 * sum(truth.values())


def test_log_sessions_per_day(run, imported):
    truth = run.truth["sessions_per_day"]
    got = _per_day(imported["log_days"])
    for day, expected in truth.items():
        assert abs(got[day] - expected) <= max(3, 0.02 * expected), day


def test_bot_share(run, imported):
    logs = imported["logs"]
    truth_share = run.truth["bot_lines"] / run.truth["total_lines"]
    assert 0.30 <= truth_share <= 0.45
    # Bots are recognised by their user agent; stealth scrapers with browser agents are
    # not, so the measured share may fall short by a little, never exceed.
    measured = logs["bots"] / logs["lines"]
    assert truth_share - 0.02 <= measured <= truth_share + 0.001


def test_404s_per_broken_link(run, imported):
    reported = {r["path"]: r for r in imported["not_found"]}
    links = run.truth["broken_links"]
    assert links, "the run has broken links"
    for link in links:
        row = reported.get(link["path"])
        if link["hits"] == 0:
            continue
        assert row is not None, link["path"]
        # Human clicks all arrive; undetected scrapers may add a few.
        assert link["hits"] <= row["hits"] <= link["hits"] + link["bot_hits"], link["path"]
        referrers = {r["referrer_path"] for r in row["referrers"]}
        assert referrers <= set(link["referrers"]), link["path"]
        assert referrers, link["path"]
