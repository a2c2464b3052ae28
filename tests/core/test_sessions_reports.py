"""Sessions and the base reports on a small hand-written log whose every number is
worked out by hand below (times in UTC unless the line says otherwise; the site is in
Europe/Berlin, CEST = UTC+2 on these days)."""

from __future__ import annotations

import pytest
from core_helpers import (
    CHROME_ANDROID,
    CHROME_WIN,
    FIREFOX,
    GOOGLEBOT,
    IPHONE,
    cli,
    import_inproc,
    one_json,
    report,
)

from amtspuls.config import load_settings
from amtspuls.privacy.kanon import REMAINDER_LABEL

SITE = "www.musterstadt.de"
HOME = f"https://{SITE}"
V1 = ("203.0.113.10", FIREFOX)          # desktop, two visits (31-minute gap)
V2 = ("198.51.100.20", IPHONE)          # mobile, from Google, hits a dead link
V3 = ("192.0.2.30", CHROME_WIN)         # desktop, 23:30 UTC = 01:30 next Berlin day
V4 = ("2001:db8:1:2::5", CHROME_ANDROID)  # mobile, one page (bounce)


def line(who, when: str, request: str, status: int, referrer: str = "-") -> str:
    ip, ua = who
    stamp = when if "/" in when else f"14/Jul/2026:{when} +0000"
    return f'{ip} - - [{stamp}] "{request} HTTP/1.1" {status} 512 "{referrer}" "{ua}"'


LOG = [
    # bots: not stored, counted
    line(("66.249.66.1", GOOGLEBOT), "07:00:00", "GET /", 200),
    line(("66.249.66.1", GOOGLEBOT), "07:00:05", "GET /buergerservice/", 200),
    line(("198.51.100.99", "curl/8.5.0"), "07:10:00", "GET /kontakt", 200),
    # a browser sent by a referrer spammer: dropped
    line(("203.0.113.250", FIREFOX), "07:20:00", "GET /", 200, "http://0-0.fr/"),
    # V1, visit 1: 08:00:00 - 08:10:00 (600 s), 3 pageviews + 1 search, 1 download
    line(V1, "08:00:00", "GET /", 200),
    line(V1, "08:00:01", "GET /css/style.css", 200, f"{HOME}/"),
    line(V1, "08:00:01", "GET /js/app.js", 200, f"{HOME}/"),
    line(V1, "08:00:02", "GET /favicon.ico", 200),
    line(V1, "08:02:00", "GET /buergerservice/", 200, f"{HOME}/"),
    line(V1, "08:05:00", "GET /buergerservice/personalausweis", 200, f"{HOME}/buergerservice/"),
    line(V1, "08:06:00", "GET /formulare/antrag-personalausweis.pdf", 200,
         f"{HOME}/buergerservice/personalausweis"),
    line(V1, "08:10:00", "GET /suche?q=personalausweis", 200, f"{HOME}/buergerservice/"),
    # V1, visit 2 after 31 minutes: one page (bounce, 0 s)
    line(V1, "08:41:00", "GET /kontakt", 200),
    # V2: 09:00:00 - 09:03:00 (180 s): 3 pageviews + 1 not-found; redirect and image dropped
    line(V2, "09:00:00", "GET /buergerservice/personalausweis", 200, "https://www.google.de/"),
    line(V2, "09:00:01", "GET /img/logo.png", 200, f"{HOME}/buergerservice/personalausweis"),
    line(V2, "09:01:00", "GET /buergerservice/reisepass", 404,
         f"{HOME}/buergerservice/personalausweis"),
    line(V2, "09:02:00", "GET /alt-seite", 301, f"{HOME}/buergerservice/reisepass"),
    line(V2, "09:02:01", "GET /neue-seite", 200, f"{HOME}/buergerservice/reisepass"),
    line(V2, "09:03:00", "GET /", 200, f"{HOME}/neue-seite"),
    # V4: one page (bounce, 0 s); a POST and a server error are no pageviews
    line(V4, "10:00:00", "GET /", 200),
    line(V4, "10:00:30", "POST /kontakt", 200, f"{HOME}/"),
    line(V4, "10:00:40", "GET /termin", 500, f"{HOME}/"),
    # V3 on the next Berlin day (written with its +0200 offset): 360 s, 3 pageviews (304)
    line(V3, "15/Jul/2026:01:30:00 +0200", "GET /", 200),
    line(V3, "15/Jul/2026:01:35:00 +0200", "GET /buergerservice/", 200, f"{HOME}/"),
    line(V3, "15/Jul/2026:01:36:00 +0200", "GET /buergerservice/", 304, f"{HOME}/"),
]
SPLIT_AFTER = 10  # first file ends with V1's third page, in the middle of visit 1

RANGE = ("2026-07-14", "2026-07-15")
EXPECTED_OVERVIEW = {
    "visitors": 4,       # day 1: V1, V2, V4; day 2: V3
    "visits": 5,
    "pageviews": 11,     # V1 4, V2 3, V4 1, V3 3
    "searches": 1,
    "downloads": 1,
    "not_found": 1,
    "bounce_rate": 0.4,  # V1's second visit, V4
    "avg_visit_seconds": 228.0,  # (600 + 0 + 180 + 0 + 360) / 5
    "actions_per_visit": 2.6,    # (4 + 1 + 4 + 1 + 3) / 5
}


def write_log(path, lines) -> str:
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sessions")
    run = cli(folder / "data", "import-logs", write_log(folder / "access.log", LOG),
              "--site", SITE, "--json")
    assert run.code == 0, run.err
    out = one_json(run.out)
    assert (out["lines"], out["imported"], out["malformed"]) == (len(LOG), len(LOG), 0)
    assert (out["pageviews"], out["bots"], out["static"]) == (11, 3, 4)
    assert out["dropped"] == {"spam_referrer": 1, "redirect": 1, "method": 1, "error": 1}
    return folder / "data"


@pytest.fixture
def k1(monkeypatch):
    """k-anonymity switched off through the environment, as an operator would."""
    monkeypatch.setenv("AMTSPULS_K_ANONYMITY", "1")


def test_env_var_sets_k(monkeypatch, tmp_path):
    assert load_settings(tmp_path).k_anonymity == 5
    monkeypatch.setenv("AMTSPULS_K_ANONYMITY", "1")
    assert load_settings(tmp_path).k_anonymity == 1
    monkeypatch.setenv("AMTSPULS_RETENTION_MONTHS", "3")
    assert load_settings(tmp_path).retention_months == 3


def test_overview(data):
    assert report(data, "overview", SITE, *RANGE) == EXPECTED_OVERVIEW


def test_days_are_berlin_days(data):
    day1 = report(data, "overview", SITE, "2026-07-14", "2026-07-14")
    day2 = report(data, "overview", SITE, "2026-07-15", "2026-07-15")
    assert (day1["visits"], day1["pageviews"], day1["visitors"]) == (4, 8, 3)
    assert (day2["visits"], day2["pageviews"], day2["visitors"]) == (1, 3, 1)
    assert day2["avg_visit_seconds"] == 360.0 and day2["bounce_rate"] == 0.0
    assert report(data, "overview", SITE, "2026-07-16", "2026-07-20")["pageviews"] == 0


def test_timeseries_per_berlin_day(data):
    rows = report(data, "timeseries", SITE, *RANGE, interval="day")
    assert rows == [
        {"period": "2026-07-14T00:00:00", "visitors": 3, "visits": 4, "pageviews": 8,
         "searches": 1},
        {"period": "2026-07-15T00:00:00", "visitors": 1, "visits": 1, "pageviews": 3,
         "searches": 0},
    ]


def test_pages_most_viewed_first(data, k1):
    rows = report(data, "pages", SITE, *RANGE)
    assert [(r["path"], r["pageviews"], r["visitors"]) for r in rows] == [
        ("/", 4, 4),
        ("/buergerservice/", 3, 2),
        ("/buergerservice/personalausweis", 2, 2),
        ("/kontakt", 1, 1),
        ("/neue-seite", 1, 1),
    ]


def test_entry_and_exit_pages(data, k1):
    entries = report(data, "entry-pages", SITE, *RANGE)
    assert [(r["path"], r["entries"], r["visitors"], r["bounce_rate"]) for r in entries] == [
        ("/", 3, 3, pytest.approx(1 / 3, abs=1e-4)),
        ("/buergerservice/personalausweis", 1, 1, 0.0),
        ("/kontakt", 1, 1, 1.0),
    ]
    exits = report(data, "exit-pages", SITE, *RANGE)
    assert [(r["path"], r["exits"], r["exit_rate"]) for r in exits] == [
        ("/", 2, 0.5),
        ("/buergerservice/", 1, pytest.approx(1 / 3, abs=1e-4)),
        ("/kontakt", 1, 1.0),
        ("/suche", 1, 1.0),
    ]


def test_not_found_with_internal_referrer(data, k1):
    assert report(data, "not-found", SITE, *RANGE) == [{
        "path": "/buergerservice/reisepass", "hits": 1, "visitors": 1, "internal_hits": 1,
        "referrers": [{"referrer_path": "/buergerservice/personalausweis", "hits": 1}],
    }]


def test_downloads(data, k1):
    rows = report(data, "downloads", SITE, *RANGE)
    assert [(r["target"], r["downloads"], r["visitors"]) for r in rows] == [
        ("/formulare/antrag-personalausweis.pdf", 1, 1)]


def test_devices_and_referrers(data, k1):
    devices = report(data, "devices", SITE, *RANGE)
    assert [(r["name"], r["visits"]) for r in devices["devices"]] == [
        ("desktop", 3), ("mobile", 2)]
    assert sorted((r["name"], r["visits"]) for r in devices["browsers"]) == [
        ("Chrome", 1), ("Chrome Mobile", 1), ("Firefox", 2), ("Mobile Safari", 1)]
    refs = report(data, "referrers", SITE, *RANGE)
    by_class = {}
    for r in refs:
        by_class[r["referrer_class"]] = by_class.get(r["referrer_class"], 0) + r["visits"]
    assert by_class == {"direct": 4, "search": 1}
    assert any("google" in (r["source"] or "") for r in refs if r["referrer_class"] == "search")


def test_traffic_counts_every_reason_per_berlin_day(data):
    rows = report(data, "traffic", SITE, *RANGE)
    got = {(r["day"], r["reason"]): r["n"] for r in rows}
    assert got == {
        ("2026-07-14", "bot"): 3, ("2026-07-14", "spam_referrer"): 1,
        ("2026-07-14", "static"): 4, ("2026-07-14", "redirect"): 1,
        ("2026-07-14", "method"): 1, ("2026-07-14", "error"): 1,
        ("2026-07-14", "pageview"): 8, ("2026-07-14", "search"): 1,
        ("2026-07-14", "download"): 1, ("2026-07-14", "not_found"): 1,
        ("2026-07-15", "pageview"): 3,
    }


def test_k_anonymity_folds_small_rows(data):
    """Default k = 5: no page has 5 visitors, so all rows go into one remainder row."""
    pages = report(data, "pages", SITE, *RANGE)
    assert len(pages) == 1
    assert pages[0]["path"] == REMAINDER_LABEL
    assert pages[0]["pageviews"] == 11 and pages[0]["folded_rows"] == 5
    assert pages[0]["visitors"] is None
    entries = report(data, "entry-pages", SITE, *RANGE)  # 3 + 1 + 1 = 5 visitors: shown
    assert [(r["path"], r["entries"]) for r in entries] == [(REMAINDER_LABEL, 5)]
    assert report(data, "not-found", SITE, *RANGE) == []  # 1 visitor: not even a remainder


def test_cli_honours_the_k_env_var(data):
    raw = cli(data, "report", "pages", "--site", SITE, "--from", RANGE[0], "--to", RANGE[1],
              "--json", env={"AMTSPULS_K_ANONYMITY": "1"})
    assert raw.code == 0, raw.err
    assert [(r["path"], r["pageviews"]) for r in one_json(raw.out)] == [
        ("/", 4), ("/buergerservice/", 3), ("/buergerservice/personalausweis", 2),
        ("/kontakt", 1), ("/neue-seite", 1)]


def test_visit_split_over_two_imports_stays_one(tmp_path):
    first = write_log(tmp_path / "access.log.1", LOG[:SPLIT_AFTER])
    second = write_log(tmp_path / "access.log", LOG[SPLIT_AFTER:])
    data = tmp_path / "data"
    for path in (first, second):
        assert import_inproc(data, SITE, path)["malformed"] == 0
    assert report(data, "overview", SITE, *RANGE) == EXPECTED_OVERVIEW
    entries = report(data, "entry-pages", SITE, *RANGE, k=1)
    assert [(r["path"], r["entries"]) for r in entries] == [
        ("/", 3), ("/buergerservice/personalausweis", 1), ("/kontakt", 1)]
    exits = report(data, "exit-pages", SITE, *RANGE, k=1)
    assert ("/suche", 1) in [(r["path"], r["exits"]) for r in exits]
