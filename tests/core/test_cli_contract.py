"""The CLI contract: site ids, exactly one JSON document with --json, and retention
(raw events go, daily aggregates stay)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from core_helpers import CHROME_WIN, FIREFOX, IPHONE, cli, combined_line, one_json, stored

SITE = "www.musterstadt.de"


def test_site_ids(tmp_path):
    data = tmp_path / "data"
    first = cli(data, "site", "add", "www.musterstadt.de")
    second = cli(data, "site", "add", "service.musterstadt.de", "--timezone", "Europe/Vienna")
    again = cli(data, "site", "add", "https://WWW.Musterstadt.de/", "--json")
    # a command with --site creates a missing site: the next id
    created = cli(data, "report", "overview", "--site", "neu.musterstadt.de", "--json")
    for run in (first, second, again, created):
        assert run.code == 0, run.err
        assert "Traceback" not in run.err
    assert (first.out, second.out) == ("1\n", "2\n")
    assert one_json(again.out) == {"id": 1, "domain": "www.musterstadt.de",
                                   "timezone": "Europe/Berlin", "aliases": []}
    assert one_json(created.out)["pageviews"] == 0
    assert stored(data, "SELECT id, domain, timezone FROM sites ORDER BY id") == [
        (1, "www.musterstadt.de", "Europe/Berlin"),
        (2, "service.musterstadt.de", "Europe/Vienna"),
        (3, "neu.musterstadt.de", "Europe/Berlin"),
    ]


NOW = datetime.now(UTC).replace(tzinfo=None)
AGES = {"old": 730, "middle": 45, "recent": 3}  # days before now


def retention_log() -> list[str]:
    """Per age: 3 visitors with 2 pageviews each, at 10:00 UTC (noon in Berlin)."""
    lines = []
    for age, days in AGES.items():
        day = (NOW - timedelta(days=days)).replace(hour=10, minute=0, second=0, microsecond=0)
        for i, ua in enumerate((FIREFOX, IPHONE, CHROME_WIN)):
            ip = f"203.0.{113 + i}.{days % 200 + 1}"
            lines.append(combined_line(ip, day + timedelta(minutes=i), f"GET /{age} HTTP/1.1",
                                       200, ua))
            lines.append(combined_line(ip, day + timedelta(minutes=i + 1),
                                       f"GET /{age}/mehr HTTP/1.1", 200, ua))
    return lines


def counts(data) -> dict:
    events = dict(stored(data, "SELECT split_part(path, '/', 2), count(*) FROM events GROUP BY 1"))
    daily = dict(stored(
        data, "SELECT day, pageviews FROM daily_site WHERE site_id = 1 ORDER BY day"))
    pages = stored(data, "SELECT count(*) FROM daily_pages")[0][0]
    sessions = stored(data, "SELECT count(*) FROM sessions")[0][0]
    return {"events": events, "daily": daily, "daily_pages": pages, "sessions": sessions}


@pytest.fixture(scope="module")
def retention(tmp_path_factory):
    folder = tmp_path_factory.mktemp("retention")
    log = folder / "access.log"
    log.write_text("\n".join(retention_log()) + "\n", "utf-8")
    data = folder / "data"
    imported = cli(data, "import-logs", str(log), "--site", SITE, "--json")
    assert imported.code == 0, imported.err
    steps = {"import": one_json(imported.out), "before": counts(data)}
    run = cli(data, "retention", "apply", "--json")
    assert run.code == 0, run.err
    steps["apply"], steps["after"] = one_json(run.out), counts(data)
    run = cli(data, "retention", "apply", "--json", env={"AMTSPULS_RETENTION_MONTHS": "1"})
    assert run.code == 0, run.err
    steps["apply_1_month"], steps["after_1_month"] = one_json(run.out), counts(data)
    return steps


def test_import_prints_one_json_document(retention):
    assert retention["import"]["pageviews"] == 18
    assert retention["import"]["lines"] == 18


def test_retention_deletes_old_raw_events_only(retention):
    before, after = retention["before"], retention["after"]
    assert before["events"] == {"old": 6, "middle": 6, "recent": 6}
    assert before["sessions"] == 9
    assert len(before["daily"]) == 3 and set(before["daily"].values()) == {6}
    assert retention["apply"]["events"] == 6
    assert retention["apply"]["sessions"] == 3
    assert after["events"] == {"middle": 6, "recent": 6}
    assert after["sessions"] == 6
    # the aggregates of the deleted day are still there, unchanged
    assert after["daily"] == before["daily"]
    assert after["daily_pages"] == before["daily_pages"] == 6


def test_retention_months_from_the_environment(retention):
    assert retention["apply_1_month"]["events"] == 6
    after = retention["after_1_month"]
    assert after["events"] == {"recent": 6}
    assert after["daily"] == retention["before"]["daily"]
    cutoff = datetime.fromisoformat(retention["apply_1_month"]["cutoff"])
    # one calendar month back, the day capped at 28: 28 to 35 days
    assert timedelta(days=27) <= NOW - cutoff < timedelta(days=35)
