"""An import's result does not depend on how the file is cut into batches: visits that
span batches are continued, and the daily aggregates that an import brings up to date
while it runs equal those computed once at the end."""

from __future__ import annotations

import random
import shutil
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from core_helpers import (
    CHROME_ANDROID,
    CHROME_WIN,
    FIREFOX,
    GOOGLEBOT,
    IPHONE,
    combined_line,
    import_inproc,
    stored,
)

from amtspuls.collect.logs import reader
from amtspuls.ingest import Ingestor

SITE = "www.musterstadt.de"
BERLIN = ZoneInfo("Europe/Berlin")
AGENTS = [FIREFOX, IPHONE, CHROME_WIN, CHROME_ANDROID]
PAGES = ["/", "/leistungen/personalausweis", "/leistungen/wohngeld", "/aktuelles",
         "/rathaus/kontakt", "/leistungen/sperrmuell"]


def make_log() -> tuple[list[str], list[tuple[str, str, datetime]]]:
    """Ten days of pageviews by 30 people (gaps of 1–40 minutes, so some visits are cut
    by inactivity; people browse across local midnight), with bot and static lines between.
    Returns the lines and the pageviews as (ip, user agent, UTC time)."""
    rng = random.Random(7)
    start = datetime(2026, 2, 2, 20, 0)  # UTC: 21:00 in Berlin
    events: list[tuple[datetime, str]] = []
    pageviews = []
    for person in range(30):
        ip = f"198.51.{person}.{10 + person}"
        ua = AGENTS[person % len(AGENTS)]
        t = start + timedelta(minutes=rng.randint(0, 600))
        while t < start + timedelta(days=10):
            page = rng.choice(PAGES)
            events.append((t, combined_line(ip, t, f"GET {page} HTTP/1.1", 200, ua)))
            pageviews.append((ip, ua, t))
            events.append((t, combined_line(ip, t, "GET /static/site.css HTTP/1.1", 200, ua)))
            gap = rng.choice([1, 2, 5, 12, 25, 29, 31, 40]) if rng.random() < 0.9 \
                else rng.randint(60, 1800)
            t += timedelta(minutes=gap)
    for i in range(400):
        t = start + timedelta(minutes=i * 36)
        events.append((t, combined_line("66.249.66.1", t, "GET / HTTP/1.1", 200, GOOGLEBOT)))
    events.sort(key=lambda e: e[0])
    return [line for _, line in events], pageviews


def expected_visits(pageviews: list[tuple[str, str, datetime]]) -> int:
    """Visits by the documented rule, independently: a visitor is (network /24, user
    agent, local day); a visit ends after 30 minutes without a page."""
    by_visitor: dict[tuple, list[datetime]] = {}
    for ip, ua, t in pageviews:
        day = t.replace(tzinfo=ZoneInfo("UTC")).astimezone(BERLIN).date()
        by_visitor.setdefault((ip.rsplit(".", 1)[0], ua, day), []).append(t)
    visits = 0
    for times in by_visitor.values():
        times.sort()
        visits += 1 + sum(1 for a, b in zip(times, times[1:], strict=False)
                          if b - a > timedelta(minutes=30))
    return visits


AGGREGATES = ["daily_site", "daily_pages", "daily_services", "daily_dims"]


def snapshot(data) -> dict[str, list]:
    out = {t: sorted(stored(data, f"SELECT * FROM {t}"), key=repr) for t in AGGREGATES}
    out["sessions"] = sorted(stored(data, "SELECT * FROM sessions"), key=repr)
    out["events"] = sorted(stored(data, "SELECT * FROM events"), key=repr)
    out["counts"] = stored(data, "SELECT day, source, reason, sum(n) FROM ingest_counts "
                                 "GROUP BY ALL ORDER BY ALL")
    return out


def test_batch_size_does_not_change_the_result(tmp_path, monkeypatch):
    lines, pageviews = make_log()
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n", "utf-8")

    whole, cut = tmp_path / "whole" / "data", tmp_path / "cut" / "data"
    monkeypatch.setenv("AMTSPULS_IMPORT_BATCH_LINES", str(len(lines) * 2))
    first = import_inproc(whole, SITE, log)
    # The same daily salts, so that visitor ids (and session ids) can be compared.
    (cut / "salts").mkdir(parents=True)
    for salt in (whole / "salts").iterdir():
        shutil.copy(salt, cut / "salts" / salt.name)
    monkeypatch.setenv("AMTSPULS_IMPORT_BATCH_LINES", "97")
    # Blocks of 4 KiB instead of 8 MiB, so that a batch is cut every ~100 lines.
    monkeypatch.setattr(reader, "BLOCK_BYTES", 4096)
    batches = []
    finish = Ingestor.finish

    def counted(self, *args, **kwargs):
        batches.append(1)
        return finish(self, *args, **kwargs)

    monkeypatch.setattr(Ingestor, "finish", counted)
    second = import_inproc(cut, SITE, log)
    assert len(batches) > 50

    for key in ("lines", "imported", "pageviews", "bots", "static", "malformed"):
        assert first[key] == second[key], key
    assert first["pageviews"] == len(pageviews)
    a, b = snapshot(whole), snapshot(cut)
    for name in a:
        assert a[name] == b[name], name
    assert len(a["sessions"]) == expected_visits(pageviews)
    ((visits,),) = stored(cut, "SELECT sum(visits) FROM daily_site")
    assert visits == expected_visits(pageviews)
    ((stale,),) = stored(cut, "SELECT count(*) FROM dirty_days")
    assert stale == 0


@pytest.mark.parametrize("commit_events", [1, 10**9])
def test_a_failing_batch_stops_the_reading_thread(tmp_path, monkeypatch, commit_events):
    """When storing a batch fails, the import ends with that error and no reading thread
    is left running on the engine that is closed. What was committed before stays (a
    commit after every batch: the re-run resumes after batch 2); what was not is rolled
    back (one transaction for the file: the re-run starts from line 1)."""
    import threading

    lines, pageviews = make_log()
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n", "utf-8")
    monkeypatch.setenv("AMTSPULS_IMPORT_BATCH_LINES", "97")
    monkeypatch.setenv("AMTSPULS_IMPORT_COMMIT_EVENTS", str(commit_events))
    monkeypatch.setattr(reader, "BLOCK_BYTES", 4096)
    calls = []
    finish = Ingestor.finish

    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return finish(self, *args, **kwargs)

    monkeypatch.setattr(Ingestor, "finish", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        import_inproc(tmp_path / "data", SITE, log)
    assert not [t for t in threading.enumerate() if t.name.startswith("amtspuls-")]
    # what was stored before the failure is resumed, not counted twice
    monkeypatch.setattr(Ingestor, "finish", finish)
    again = import_inproc(tmp_path / "data", SITE, log)
    if commit_events == 1:
        assert 0 < again["lines"] < len(lines)
    else:
        assert again["lines"] == len(lines)
    ((stored_pageviews,),) = stored(tmp_path / "data",
                                    "SELECT count(*) FROM events WHERE type = 'pageview'")
    assert stored_pageviews == len(pageviews)
