"""Rules on hand-made tracker events, imported through the live ingest path into a real
store: each scenario plants one problem next to normal traffic, and the rule must name
the planted service and nothing normal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

SITE = "www.example.de"
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Safari/537.36")
MOBILE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Mobile Safari/537.36")
END = datetime(2026, 3, 31, 12)


class Visits:
    """Visitors with addresses in distinct /24 networks (so truncation keeps them apart)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.n = 0

    def visitor(self, day: datetime, ua: str = DESKTOP) -> tuple[str, str, datetime]:
        self.n += 1
        ip = f"84.{10 + self.n // 200}.{self.n % 200}.9"
        return ip, ua, day + timedelta(minutes=self.n % 500)

    def add(self, ip: str, ua: str, ts: datetime, kind: str, path: str, **extra) -> None:
        self.rows.append({"ts": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "ip": ip, "ua": ua,
                          "type": kind, "url": f"https://{SITE}{path}", **extra})

    def form(self, service: str, day: datetime, ua: str, submit: bool) -> None:
        ip, ua, t = self.visitor(day, ua)
        slug = service.replace("_", "-")
        self.add(ip, ua, t, "pageview", f"/leistungen/{slug}", title=service)
        self.add(ip, ua, t + timedelta(seconds=20), "form_start", f"/online/{slug}",
                 form=service, field="name")
        if submit:
            self.add(ip, ua, t + timedelta(seconds=90), "form_submit", f"/online/{slug}",
                     form=service)

    def write(self, path: Path) -> Path:
        self.rows.sort(key=lambda r: r["ts"])
        path.write_text("".join(json.dumps(r) + "\n" for r in self.rows), encoding="utf-8")
        return path


def cli(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "amtspuls.cli", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "AMTSPULS_WATCH": "0"})


def recommend(tmp_path: Path, visits: Visits) -> list[dict]:
    data = tmp_path / "data"
    run = cli(data, "import-events", str(visits.write(tmp_path / "events.jsonl")), "--site",
              SITE, "--json")
    assert run.returncode == 0, run.stderr
    run = cli(data, "recommend", "--site", SITE, "--json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def days(n: int) -> list[datetime]:
    return [END - timedelta(days=i) for i in range(n)]


@pytest.mark.slow
def test_a_form_that_fails_on_phones_only(tmp_path) -> None:
    v = Visits()
    for i, day in enumerate(days(20)):
        for j in range(3):
            # wohngeld: phones mostly give up, desktops finish
            v.form("wohngeld", day, MOBILE, submit=(i + j) % 5 == 0)
            v.form("wohngeld", day, DESKTOP, submit=True)
            # hundesteuer: both finish
            v.form("hundesteuer", day, MOBILE, submit=(i + j) % 10 != 0)
            v.form("hundesteuer", day, DESKTOP, submit=(i + j) % 10 != 1)
    recs = recommend(tmp_path, v)
    mobile = [r for r in recs if r["kind"] == "mobile_problem"]
    assert [r["service_id"] for r in mobile] == ["wohngeld"]
    ev = mobile[0]["evidence"][0]
    # 60 phone starts, 12 finished; 60 desktop starts, all finished
    assert ev["value"] == pytest.approx(12 / 60, abs=1e-3)
    assert ev["baseline"] == pytest.approx(1.0)


@pytest.mark.slow
def test_a_pdf_form_without_online_service_but_not_an_info_pdf(tmp_path) -> None:
    v = Visits()
    for day in days(14):
        for _ in range(4):
            ip, ua, t = v.visitor(day)
            v.add(ip, ua, t, "pageview", "/leistungen/baugenehmigung", title="Bauen")
            v.add(ip, ua, t + timedelta(seconds=30), "download", "/leistungen/baugenehmigung",
                  target=f"https://{SITE}/fileadmin/formulare/baugenehmigung.pdf")
            ip, ua, t = v.visitor(day)
            v.add(ip, ua, t, "pageview", "/leistungen/abfallkalender", title="Abfall")
            v.add(ip, ua, t + timedelta(seconds=30), "download", "/leistungen/abfallkalender",
                  target=f"https://{SITE}/fileadmin/formulare/abfallkalender.pdf")
    recs = recommend(tmp_path, v)
    pdf = [r for r in recs if r["kind"] == "pdf_without_online"]
    # the building permit is a transaction; the waste calendar is information
    assert [r["service_id"] for r in pdf] == ["baugenehmigung"]
    assert pdf[0]["evidence"][0]["value"] == 56


@pytest.mark.slow
def test_a_growing_search_topic_without_content(tmp_path) -> None:
    v = Visits()
    for i, day in enumerate(days(28)):
        last_week = i < 7
        for _ in range(6 if last_week else 0 if i % 7 else 1):
            ip, ua, t = v.visitor(day)
            v.add(ip, ua, t, "search", "/suche?q=trinkbrunnen", query="trinkbrunnen",
                  results=0)
        # a steady query: as many every week
        ip, ua, t = v.visitor(day)
        v.add(ip, ua, t, "search", "/suche?q=minigolf", query="minigolf", results=0)
    recs = recommend(tmp_path, v)
    topics = [r for r in recs if r["kind"] == "growing_topic"]
    assert [r["subject"] for r in topics] == ["trinkbrunnen"]
    ev = topics[0]["evidence"][0]
    assert ev["value"] == 42            # 6 a day in the last 7 days
    assert ev["baseline"] == pytest.approx(1.0)  # one a week before


@pytest.mark.slow
def test_a_season_ahead_is_a_calendar_reminder_without_history(tmp_path) -> None:
    v = Visits()
    for day in days(14):
        for service in ("reisepass", "hundesteuer"):
            for _ in range(5):
                ip, ua, t = v.visitor(day)
                v.add(ip, ua, t, "pageview", f"/leistungen/{service}", title=service)
    recs = recommend(tmp_path, v)
    seasons = [r for r in recs if r["kind"] == "seasonal_demand"]
    # data end 31 March: travel documents from 15 April are 15 days ahead; the dog tax
    # season (January) is not within three weeks
    assert [(r["service_id"], r["subject"]) for r in seasons] == [("reisepass", "2026-04-15")]
    assert seasons[0]["confidence"] == pytest.approx(0.15)  # no year of history to confirm
