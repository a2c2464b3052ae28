"""The REST reports, served by a real uvicorn server on a loopback port: the same JSON as
the CLI, and errors as JSON with "error" (never a 5xx)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from core_helpers import CHROME_WIN, FIREFOX, IPHONE, cli, combined_line, one_json, report

from amtspuls.analyze.reports import REPORTS
from amtspuls.config import load_settings
from amtspuls.serve.app import create_app
from amtspuls.serve.loopback import serving

SITE = "www.musterstadt.de"
# Recent days (the server applies retention when it starts).
DAY = (datetime.now(UTC) - timedelta(days=3)).replace(hour=9, minute=0, second=0,
                                                       microsecond=0, tzinfo=None)
FROM = (DAY - timedelta(days=1)).date().isoformat()
TO = (DAY + timedelta(days=1)).date().isoformat()


def make_log() -> list[str]:
    lines = []
    visitors = [(f"198.51.{100 + i}.7", [FIREFOX, IPHONE, CHROME_WIN][i % 3]) for i in range(1, 8)]
    for i, (ip, ua) in enumerate(visitors):
        t = DAY + timedelta(minutes=7 * i)
        lines.append(combined_line(ip, t, "GET / HTTP/1.1", 200, ua))
        lines.append(combined_line(ip, t + timedelta(minutes=1),
                                   "GET /buergerservice/wohngeld HTTP/1.1", 200, ua,
                                   f"https://{SITE}/"))
        if i % 2:
            lines.append(combined_line(ip, t + timedelta(minutes=2), "GET /gibts-nicht HTTP/1.1",
                                       404, ua, f"https://{SITE}/buergerservice/wohngeld"))
    return lines


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    log = folder / "access.log"
    log.write_text("\n".join(make_log()) + "\n", "utf-8")
    data = folder / "data"
    run = cli(data, "import-logs", str(log), "--site", SITE, "--json")
    assert run.code == 0, run.err
    assert one_json(run.out)["pageviews"] == 14
    overview = cli(data, "report", "overview", "--site", SITE, "--from", FROM, "--to", TO,
                   "--json")
    assert overview.code == 0, overview.err
    local = {name: report(data, name, SITE, FROM, TO) for name in ("pages", "not-found")}
    # /api/v1 needs a token (api_auth, docs/dashboard.md)
    assert cli(data, "user", "add", "api", "--role", "viewer").code == 0
    token = one_json(cli(data, "user", "token", "api", "--json").out)["token"]

    with serving(create_app(load_settings(data))) as base, httpx.Client(
            base_url=base, timeout=20, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client, one_json(overview.out), local


def get_json(client, url, **params):
    response = client.get(url, params=params)
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.status_code, response.json()


def test_overview_equals_cli_json(served):
    client, cli_overview, _ = served
    status, body = get_json(client, "/api/v1/reports/overview", site=SITE, **{"from": FROM},
                            to=TO)
    assert status == 200
    assert body == cli_overview
    assert (body["visits"], body["pageviews"], body["not_found"]) == (7, 14, 3)


def test_row_reports_equal_the_same_function(served):
    client, _, local = served
    for name, rows in local.items():
        status, body = get_json(client, f"/api/v1/reports/{name}", site=SITE,
                                **{"from": FROM}, to=TO)
        assert status == 200 and body == rows, name
    # 7 visitors on "/" and on the Wohngeld page: shown; 3 on the dead link: folded away
    assert [(r["path"], r["pageviews"], r["visitors"]) for r in local["pages"]] == [
        ("/", 7, 7), ("/buergerservice/wohngeld", 7, 7)]
    assert local["not-found"] == []


def test_every_report_answers(served):
    client, _, _ = served
    for name in REPORTS:
        # journeys is per service
        extra = {"service": "wohngeld"} if name == "journeys" else {}
        for interval in ("hour", "day", "week"):
            status, _ = get_json(client, f"/api/v1/reports/{name}", site=SITE,
                                 interval=interval, **extra)
            assert status == 200, (name, interval)


@pytest.mark.parametrize("url, params, status", [
    ("/api/v1/reports/besucherliste", {"site": SITE}, 404),
    ("/api/v1/reports/overview", {"site": "www.unbekannt.de"}, 404),
    ("/api/v1/reports/pages", {"site": "www.unbekannt.de"}, 404),
    ("/api/v1/reports/overview", {"site": SITE, "from": "2026-13-01"}, 400),
    ("/api/v1/reports/overview", {"site": SITE, "to": "gestern"}, 400),
    ("/api/v1/reports/overview", {"site": SITE, "from": "2026-02-05", "to": "2026-02-01"}, 400),
    ("/api/v1/reports/timeseries", {"site": SITE, "interval": "year"}, 400),
    ("/api/v1/reports/pages", {"site": SITE, "limit": "0"}, 400),
    ("/api/v1/reports/pages", {"site": SITE, "limit": "viele"}, 400),
    ("/api/v1/reports/overview", {}, 400),
])
def test_errors_are_json_with_error(served, url, params, status):
    client, _, _ = served
    got, body = get_json(client, url, **params)
    assert got == status, body
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]
    assert "Traceback" not in body["error"]
