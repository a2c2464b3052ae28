"""The needs API on a real uvicorn server (loopback): the same JSON as the CLI."""

from __future__ import annotations

import json

import httpx
import pytest
from needs_helpers import FROM, SITE, TO, cli

from amtspuls.config import load_settings
from amtspuls.serve.app import create_app
from amtspuls.serve.loopback import serving


def cli_json(data, *args):
    run = cli(data, *args)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


REPORT_ARGS = {"search": [], "frustration": [], "journeys": ["--service", "personalausweis"]}


@pytest.fixture(scope="module")
def expected(site_data):
    """CLI answers, taken before the server holds the store."""
    out = {name: cli_json(site_data, "report", name, "--site", SITE, "--from", FROM, "--to", TO,
                          "--json", *args) for name, args in REPORT_ARGS.items()}
    out["topics"] = cli_json(site_data, "topics", "--site", SITE, "--from", FROM, "--to", TO,
                             "--json")
    out["map-query"] = cli_json(site_data, "map-query", "perso verlängern", "--json")
    return out


@pytest.fixture(scope="module")
def client(site_data, expected):
    assert cli(site_data, "user", "add", "needs-api", "--role", "viewer").returncode == 0
    token = json.loads(cli(site_data, "user", "token", "needs-api", "--json").stdout)["token"]
    with serving(create_app(load_settings(site_data))) as base, httpx.Client(
            base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


def test_map_query(client, expected):
    r = client.get("/api/v1/map-query", params={"q": "perso verlängern"})
    assert r.status_code == 200
    assert r.json() == expected["map-query"]
    learned = client.get("/api/v1/map-query", params={"q": "zetteltrommel", "site": SITE})
    assert learned.json()["service_id"] == "wohngeld"


def test_map_queries(client):
    r = client.post("/api/v1/map-queries", json={"queries": ["wbs", "pizza"]})
    assert r.status_code == 200
    assert [x["service_id"] for x in r.json()] == ["wohnberechtigungsschein", "none"]


def test_topics_and_reports_equal_cli(client, expected):
    r = client.get("/api/v1/topics", params={"site": SITE, "from": FROM, "to": TO})
    assert r.status_code == 200
    assert r.json() == expected["topics"]
    for name, args in REPORT_ARGS.items():
        extra = {"service": args[1]} if args else {}
        got = client.get(f"/api/v1/reports/{name}",
                         params={"site": SITE, "from": FROM, "to": TO, **extra})
        assert got.status_code == 200, got.text
        assert got.json() == expected[name], name


@pytest.mark.parametrize("url, params, status", [
    ("/api/v1/map-query", {}, 400),
    ("/api/v1/map-query", {"q": "x", "site": "www.unbekannt.de"}, 404),
    ("/api/v1/topics", {"site": "www.unbekannt.de"}, 404),
    ("/api/v1/topics", {"site": SITE, "semantic": "vielleicht"}, 400),
    ("/api/v1/reports/journeys", {"site": SITE, "service": "gibtsnicht"}, 400),
])
def test_errors_are_json(client, url, params, status):
    r = client.get(url, params=params)
    assert r.status_code == status, r.text
    assert isinstance(r.json().get("error"), str)
