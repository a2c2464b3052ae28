"""Who sees a request's raw text: dashboard roles and the clerk key, on a real server on
loopback. A viewer gets the scrubbed text, an analyst (or admin) of the request's site the
raw text and may review, a clerk key works where the API is not behind user login, and
without credentials the API answers 401. Every raw-text answer is audit-logged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from triage_helpers import SITE

OTHER = "www.nachbarstadt.de"
TEXT = ("Die Straßenlaterne vor Nr. 12 ist seit Tagen aus. Mein Name ist Petra Weber, "
        "erreichbar unter petra.weber@example.org")


@dataclass
class Server:
    base: str
    store: Any
    open311_key: str
    clerk_key: str
    tokens: dict[str, str]


def _store(folder, api_auth: bool):
    from amtspuls.config import load_settings
    from amtspuls.serve.auth import add_user, issue_token
    from amtspuls.store import open_store
    from amtspuls.store.requests_store import RequestStore

    data = folder / "data"
    data.mkdir()
    (data / "amtspuls.toml").write_text(f"api_auth = {str(api_auth).lower()}\n", "utf-8")
    settings = load_settings(data)
    store = open_store(settings)
    store.add_site(SITE)
    store.add_site(OTHER)
    rs = RequestStore(store)
    open311 = rs.add_api_key("buerger-app")
    clerk = rs.add_api_key("fachverfahren", role="clerk")
    tokens = {}
    for name, role, site in (("vera", "viewer", SITE), ("anton", "analyst", SITE),
                             ("nora", "analyst", OTHER), ("ada", "admin", None)):
        add_user(store, name, role, None, site=site)
        tokens[name] = issue_token(store, name)[0]
    return settings, store, open311, clerk, tokens


@pytest.fixture(scope="module", params=[True, False], ids=["api_auth", "no_api_auth"])
def served(request, tmp_path_factory):
    from amtspuls.serve.app import create_app
    from amtspuls.serve.loopback import serving

    settings, store, open311, clerk, tokens = _store(tmp_path_factory.mktemp("roles"),
                                                     request.param)
    try:
        with serving(create_app(settings, store=store)) as base, httpx.Client(
                base_url=base, timeout=60) as client:
            server = Server(base, store, open311, clerk, tokens)
            r = client.post("/open311/v2/requests.json", data={
                "api_key": server.open311_key, "service_code": "strassenbeleuchtung",
                "lat": "51.2561", "long": "7.7483", "description": TEXT,
                "email": "petra.weber@example.org"})
            assert r.status_code in (200, 201), r.text
            rid = r.json()[0]["service_request_id"]
            yield request.param, server, client, rid
    finally:
        store.close()


def bearer(server: Server, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.tokens[name]}"}


def raw_audits(server: Server, request_id: str) -> list[dict]:
    from amtspuls.store import users as us

    return [a for a in us.list_audit(server.store, limit=10_000)
            if a["action"] == "request.raw_text" and a["target"] == request_id]


def assert_scrubbed(body: dict) -> None:
    assert "description_raw" not in body and "contact" not in body
    assert "petra.weber@example.org" not in str(body) and "Petra Weber" not in str(body)
    assert "Straßenlaterne" in body["description"]


def assert_raw(body: dict) -> None:
    assert body["description_raw"] == TEXT
    assert body["contact"]["email"] == "petra.weber@example.org"


REVIEW = {"decision": "confirm"}


def test_viewer_token_gets_the_scrubbed_text_only(served):
    _, server, client, rid = served
    before = len(raw_audits(server, rid))
    r = client.get(f"/api/v1/requests/{rid}", params={"site": SITE},
                   headers=bearer(server, "vera"))
    assert r.status_code == 200, r.text
    assert_scrubbed(r.json())
    assert r.json()["triage"]["category"]
    assert len(raw_audits(server, rid)) == before
    r = client.post(f"/api/v1/requests/{rid}/review", params={"site": SITE}, json=REVIEW,
                    headers=bearer(server, "vera"))
    assert r.status_code == 403
    assert client.get(f"/api/v1/requests/{rid}/log", params={"site": SITE},
                      headers=bearer(server, "vera")).status_code == 403


def test_analyst_token_gets_the_raw_text_and_reviews(served):
    _, server, client, rid = served
    before = len(raw_audits(server, rid))
    r = client.get(f"/api/v1/requests/{rid}", params={"site": SITE},
                   headers=bearer(server, "anton"))
    assert r.status_code == 200, r.text
    assert_raw(r.json())
    audits = raw_audits(server, rid)
    assert len(audits) == before + 1
    assert audits[0]["actor"] == "anton" and audits[0]["detail"] == {"via": "token"}
    assert audits[0]["site_id"] == server.store.get_site(SITE).id
    r = client.post(f"/api/v1/requests/{rid}/review", params={"site": SITE},
                    json={"decision": "correct", "priority": 2},
                    headers=bearer(server, "anton"))
    assert r.status_code == 200, r.text
    assert r.json()["priority"] == 2
    log = client.get(f"/api/v1/requests/{rid}/log", params={"site": SITE},
                     headers=bearer(server, "anton"))
    assert log.status_code == 200 and log.json()[0]["model_version"]
    # an admin of every site may too
    r = client.get(f"/api/v1/requests/{rid}", params={"site": SITE},
                   headers=bearer(server, "ada"))
    assert_raw(r.json())
    assert raw_audits(server, rid)[0]["actor"] == "ada"


def test_analyst_of_another_site_gets_no_raw_text(served):
    api_auth, server, client, rid = served
    r = client.get(f"/api/v1/requests/{rid}", params={"site": SITE},
                   headers=bearer(server, "nora"))
    if api_auth:  # no role for the site at all
        assert r.status_code == 403
    else:
        assert r.status_code == 200
        assert_scrubbed(r.json())
    assert client.post(f"/api/v1/requests/{rid}/review", params={"site": SITE}, json=REVIEW,
                       headers=bearer(server, "nora")).status_code == 403


def test_clerk_key(served):
    api_auth, server, client, rid = served
    r = client.get(f"/api/v1/requests/{rid}", params={"site": SITE},
                   headers={"X-API-Key": server.clerk_key})
    # with or without user login: the key is for systems without a dashboard user
    assert r.status_code == 200, r.text
    assert_raw(r.json())
    audit = raw_audits(server, rid)[0]
    assert audit["actor"] == "fachverfahren" and audit["detail"] == {"via": "clerk_key"}
    assert client.post(f"/api/v1/requests/{rid}/review", params={"site": SITE}, json=REVIEW,
                       headers={"X-API-Key": server.clerk_key}).status_code == 200
    # an Open311 client's key is no clerk key (behind user login it is no login either)
    assert client.get(f"/api/v1/requests/{rid}", params={"site": SITE},
                      headers={"X-API-Key": server.open311_key}).status_code == (
                          401 if api_auth else 403)
    # and a clerk key opens nothing else of the API
    other = client.get("/api/v1/recommendations", params={"site": SITE},
                       headers={"X-API-Key": server.clerk_key})
    assert other.status_code == (401 if api_auth else 200)


def test_no_credentials(served):
    api_auth, server, client, rid = served
    before = len(raw_audits(server, rid))
    r = client.get(f"/api/v1/requests/{rid}", params={"site": SITE})
    review = client.post(f"/api/v1/requests/{rid}/review", params={"site": SITE}, json=REVIEW)
    if api_auth:
        assert r.status_code == 401 and review.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        bad = client.get(f"/api/v1/requests/{rid}", params={"site": SITE},
                         headers={"Authorization": "Bearer apt_falsch"})
        assert bad.status_code == 401
    else:  # as before: the scrubbed text for anyone, reviews refused
        assert r.status_code == 200
        assert_scrubbed(r.json())
        assert review.status_code == 403
    assert len(raw_audits(server, rid)) == before
