"""Access control over real HTTP: logins, roles per site, API tokens, CSRF, rate limiting,
cookies, security headers, k-anonymity of exports, and the audit log."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
from dash_helpers import OTHER_SITE, PAGES, PASSWORDS, SITE, XSS_QUERIES, cli


def test_api_needs_a_token(served):
    r = httpx.get(served.base + "/api/v1/reports/overview", params={"site": SITE})
    assert r.status_code == 401 and r.json()["error"]
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.get(served.base + "/api/v1/reports/overview", params={"site": SITE},
                  headers={"Authorization": "Bearer apt_falsch"})
    assert r.status_code == 401
    assert served.api("/api/v1/reports/overview", site=SITE).status_code == 200
    assert httpx.get(served.base + "/api/v1/health").status_code == 200  # public


def test_api_roles_per_site(served):
    # vera is a viewer of SITE only
    assert served.api("/api/v1/reports/overview", "vera", site=SITE).status_code == 200
    r = served.api("/api/v1/reports/overview", "vera", site=OTHER_SITE)
    assert r.status_code == 403 and "viewer" in r.json()["error"]
    assert served.api("/api/v1/sites", "vera").status_code == 403  # needs a role for all
    assert served.api("/api/v1/sites", "anna").status_code == 200
    # a viewer may not change anything (POST needs analyst)
    r = httpx.post(served.base + "/api/v1/reports/overview", params={"site": SITE},
                   headers={"Authorization": f"Bearer {served.tokens['vera']}"})
    assert r.status_code == 403


def test_public_endpoints_stay_public(served):
    assert httpx.get(served.base + "/js/amtspuls.js").status_code == 200
    r = httpx.post(served.base + "/api/collect", json={"site": SITE, "url": f"https://{SITE}/"},
                   headers={"User-Agent": "Mozilla/5.0 Chrome/126.0"})
    assert r.status_code < 300, r.text
    r = httpx.get(served.base + "/matomo.php", params={"idsite": 1, "rec": 1,
                                                       "url": f"https://{SITE}/x"})
    assert r.status_code < 300
    # /open311/v2 is not behind the dashboard login (its own api_key)
    r = httpx.get(served.base + "/open311/v2/services.json")
    assert r.status_code not in (401, 403) or "api_key" in r.text.lower()


def test_no_page_that_would_load_a_cdn(served):
    # FastAPI's Swagger/ReDoc pages fetch their scripts from a CDN: switched off
    for path in ("/docs", "/redoc"):
        r = httpx.get(served.base + path)
        assert r.status_code == 404, path
        assert "cdn" not in r.text.lower()
    schema = httpx.get(served.base + "/openapi.json")
    assert schema.status_code == 200 and "/api/v1/recommendations" in schema.json()["paths"]


def test_pages_redirect_to_login_and_check_roles(served):
    for slug in PAGES:
        r = httpx.get(f"{served.base}/dashboard/{slug}")
        assert r.status_code == 303 and r.headers["location"].startswith("/anmelden?next=")
    with served.login("vera") as vera:
        assert vera.get("/dashboard/", params={"site": SITE}).status_code == 200
        assert vera.get("/dashboard/einstellungen").status_code == 403
        assert vera.get("/dashboard/", params={"site": OTHER_SITE}).status_code == 403
        assert vera.get("/dashboard/export/einstellungen/benutzer.csv").status_code == 403
        r = vera.get("/dashboard/")
        assert 'href="/dashboard/einstellungen' not in r.text  # not offered either
    with served.login("nora") as nora:  # only the other site
        r = nora.get("/dashboard/")
        assert r.status_code == 200 and OTHER_SITE in r.text
        assert nora.get("/dashboard/", params={"site": SITE}).status_code == 403
    with served.login("anna") as anna:
        assert anna.get("/dashboard/einstellungen").status_code == 200


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_forms_without_csrf_are_rejected(served):
    with served.login("anna") as anna:
        page = anna.get("/dashboard/einstellungen")
        token = _csrf(page.text)
        # no token, a wrong token, a foreign origin: refused, nothing changed
        for data, headers in (({"domain": "csrf1.example"}, {}),
                              ({"domain": "csrf2.example", "csrf": "falsch"}, {}),
                              ({"domain": "csrf3.example", "csrf": token},
                               {"Origin": "https://angreifer.example"})):
            r = anna.post("/dashboard/einstellungen/websites", data=data, headers=headers)
            assert r.status_code == 403, r.text[:300]
        r = anna.post("/dashboard/einstellungen/benutzer",
                      data={"name": "mallory", "password": "x" * 12, "role": "admin"})
        assert r.status_code == 403
        r = anna.post("/abmelden")  # logout needs the token too
        assert r.status_code == 403
        sites = served.api("/api/v1/sites").json()
        assert not any(s["domain"].startswith("csrf") for s in sites)
        # with the token (and our own origin) it works
        r = anna.post("/dashboard/einstellungen/websites",
                      data={"domain": "csrf-ok.example", "csrf": token},
                      headers={"Origin": served.base})
        assert r.status_code == 303
        assert any(s["domain"] == "csrf-ok.example" for s in served.api("/api/v1/sites").json())
    # the login form has its own token
    r = httpx.post(served.base + "/anmelden", data={"name": "anna",
                                                    "password": PASSWORDS["anna"]})
    assert r.status_code == 403 and "amtspuls_session" not in r.headers.get("set-cookie", "")


def test_viewer_cannot_post_settings(served):
    with served.login("vera") as vera:
        token = _csrf(vera.get("/dashboard/").text)
        r = vera.post("/dashboard/einstellungen/benutzer",
                      data={"name": "vera2", "password": "y" * 12, "role": "admin",
                            "csrf": token}, headers={"Origin": served.base})
        assert r.status_code == 403
        r = vera.post("/dashboard/einstellungen/tokens", data={"user": "anna", "csrf": token},
                      headers={"Origin": served.base})
        assert r.status_code == 403


def test_session_cookie_flags_and_security_headers(served):
    client = httpx.Client(base_url=served.base)
    page = client.get("/anmelden")
    r = client.post("/anmelden", data={"name": "vera", "password": PASSWORDS["vera"],
                                       "csrf": _csrf(page.text)})
    cookie = next(c for c in r.headers.get_list("set-cookie") if "amtspuls_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # plain HTTP to a loopback name: no Secure (cookie_secure = auto), see docs
    assert "Secure" not in cookie
    for path in ("/dashboard/", "/anmelden", "/api/v1/health"):
        h = client.get(path).headers
        csp = h["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp
        assert "http" not in csp  # no external origin
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "same-origin"
        assert h["x-frame-options"] == "DENY"
    client.close()
    # behind a proxy that says https, or with another host name: Secure
    page = httpx.get(served.base + "/anmelden", headers={"Host": "analyse.musterstadt.de"})
    assert "Secure" in page.headers["set-cookie"]


def test_open_redirect_is_refused(served):
    client = httpx.Client(base_url=served.base)
    page = client.get("/anmelden")
    r = client.post("/anmelden", data={"name": "vera", "password": PASSWORDS["vera"],
                                       "csrf": _csrf(page.text),
                                       "next": "//angreifer.example/x"})
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/"
    r = client.get("/sprache", params={"lang": "en", "next": "https://angreifer.example"})
    assert r.headers["location"] == "/dashboard/"
    client.close()


def test_login_rate_limit_and_audit(served):
    client = httpx.Client(base_url=served.base)
    statuses = []
    for _ in range(7):
        page = client.get("/anmelden")
        r = client.post("/anmelden", data={"name": "rita", "password": "falsch-falsch",
                                           "csrf": _csrf(page.text)})
        statuses.append(r.status_code)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429], statuses
    # even the right password waits now
    page = client.get("/anmelden")
    r = client.post("/anmelden", data={"name": "rita", "password": PASSWORDS["rita"],
                                       "csrf": _csrf(page.text)})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    client.close()
    with served.login("anna") as anna:
        log = anna.get("/dashboard/export/einstellungen/protokoll.csv").text
    assert "login.fail" in log and "login.throttled" in log and "login.ok" in log
    assert "site.add" in log and "user.add" in log


def test_tokens_from_the_settings_page_and_revocation(served):
    with served.login("anna") as anna:
        token = _csrf(anna.get("/dashboard/einstellungen").text)
        r = anna.post("/dashboard/einstellungen/tokens", data={"user": "vera", "label": "t",
                                                              "csrf": token},
                      headers={"Origin": served.base})
        assert r.status_code == 200
        new = re.search(r'<code id="new-token">([^<]+)</code>', r.text).group(1)
        ok = httpx.get(served.base + "/api/v1/reports/overview", params={"site": SITE},
                       headers={"Authorization": f"Bearer {new}"})
        assert ok.status_code == 200
        rows = list(csv.reader(io.StringIO(
            anna.get("/dashboard/export/einstellungen/tokens.csv").text.lstrip("\ufeff"))))
        assert new not in str(rows)  # only the prefix is ever shown again
        ids = re.findall(r'action="/dashboard/einstellungen/tokens/(\d+)/widerruf"', r.text)
        r = anna.post(f"/dashboard/einstellungen/tokens/{max(map(int, ids))}/widerruf",
                      data={"csrf": token}, headers={"Origin": served.base})
        assert r.status_code == 303
    gone = httpx.get(served.base + "/api/v1/reports/overview", params={"site": SITE},
                     headers={"Authorization": f"Bearer {new}"})
    assert gone.status_code == 401


def test_exports_are_k_anonymous_and_safe_in_spreadsheets(served):
    with served.login("vera") as vera:
        for slug, table in (("suche", "suchbegriffe"), ("uebersicht", "seiten"),
                            ("leistungen", "nachfrage")):
            r = vera.get(f"/dashboard/export/{slug}/{table}.csv", params=served.range())
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
            assert rows, (slug, table)
            col = next((c for c in rows[0] if c in ("Besucher", "Visitors")), None)
            if col:
                assert all(not r[col] or int(r[col]) >= 5 for r in rows), (slug, table)
        text = vera.get("/dashboard/export/suche/suchbegriffe.csv", params=served.range()).text
    # the payloads are there (25 visitors each), as plain text cells
    queries = {r["Suchbegriff"] for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
    assert set(XSS_QUERIES) <= queries
    # a cell that a spreadsheet would run as a formula gets a leading apostrophe
    from amtspuls.serve.dashboard.model import csv_cell

    assert csv_cell("=HYPERLINK(\"http://x\")").startswith("'=")
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)" and csv_cell(-3) == "-3"


def test_user_cli_contract(tmp_path):
    data = tmp_path / "data"
    bad = cli(data, "user", "add", "xy", "--role", "chef")
    assert bad.returncode == 2 and "role" in bad.stderr and "Traceback" not in bad.stderr
    short = cli(data, "user", "add", "xy", "--role", "viewer", "--password-stdin", stdin="kurz\n")
    assert short.returncode == 2 and "password" in short.stderr
    ok = cli(data, "user", "add", "neu", "--role", "analyst", "--site", "www.a.de", "--json")
    assert ok.returncode == 0
    import json

    doc = json.loads(ok.stdout)
    assert doc["roles"] == {"www.a.de": "analyst"} and len(doc["password"]) >= 12
    assert cli(data, "user", "token", "niemand").returncode == 2


@pytest.mark.parametrize("user", ["vera", "anna"])
def test_every_page_answers(served, user):
    with served.login(user) as client:
        for slug in PAGES:
            r = client.get(f"/dashboard/{slug}", params=served.range())
            expected = 403 if slug == "einstellungen" and user == "vera" else 200
            assert r.status_code == expected, (slug, r.text[:500])


def test_request_actions_need_analyst_and_csrf(served):
    rng = served.range()
    with served.login("vera") as vera:
        page = vera.get("/dashboard/anliegen", params=rng)
        assert page.status_code == 200 and "2026-T1" in page.text
        assert 'action="/dashboard/anliegen/2026-T1"' not in page.text  # no buttons
        r = vera.post("/dashboard/anliegen/2026-T1", data={"csrf": _csrf(page.text),
                                                           "site": SITE, "action": "confirm"},
                      headers={"Origin": served.base})
        assert r.status_code == 403
    with served.login("alex") as alex:
        page = alex.get("/dashboard/anliegen", params=rng)
        assert 'action="/dashboard/anliegen/2026-T1"' in page.text
        r = alex.post("/dashboard/anliegen/2026-T1", data={"site": SITE, "action": "confirm"},
                      headers={"Origin": served.base})
        assert r.status_code == 403  # no CSRF token
        r = alex.post("/dashboard/anliegen/2026-T2", data={"csrf": _csrf(page.text),
                                                           "site": SITE, "action": "closed"},
                      headers={"Origin": served.base})
        assert r.status_code == 303
        page = alex.get("/dashboard/anliegen", params=rng)
        assert page.text.count('name="action" value="closed"') == 4  # T2 is closed now
    with served.login("anna") as anna:
        log = anna.get("/dashboard/export/einstellungen/protokoll.csv").text
    assert "anliegen.closed" in log and "denied" in log


def test_transparency_page_is_off_by_default_and_public_when_on(served, tmp_path):
    assert httpx.get(served.base + "/transparenz").status_code == 404
    from fastapi.testclient import TestClient

    from amtspuls.config import load_settings
    from amtspuls.serve.app import create_app

    settings = load_settings(tmp_path / "data")
    settings.transparency_page = True
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        client.app.state.store.add_site(SITE)
        r = client.get("/transparenz")  # no login
        assert r.status_code == 200 and SITE in r.text
        assert "anmelden" not in r.headers.get("location", "")
        assert "Abmelden" not in r.text and "CSV" not in r.text
        assert "default-src 'none'" in r.headers["content-security-policy"]
