"""The tracking endpoints over real HTTP: status codes and reasons, Matomo single, POST
and bulk requests, Plausible, the tracker script, limits, realtime; then, after a clean
stop, what the store holds."""

from __future__ import annotations

import gzip
import json
import time
from urllib.parse import urlencode

import pytest
from tracking_helpers import CHROME_UA, SITE, Server, cli, request, store_rows

from amtspuls.serve.live import ClientAddress, RateLimiter

TOKEN = "geheim-0815"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("http") / "data"
    assert cli(data, "site", "add", SITE).stdout.strip() == "1"
    assert cli(data, "site", "add", "www.nachbarort.de").stdout.strip() == "2"
    srv = Server(data, env={"AMTSPULS_TRUSTED_PROXIES": "127.0.0.1",
                            "AMTSPULS_COLLECT_RATE_LIMIT": "20",
                            "AMTSPULS_COLLECT_RATE_BURST": "40",
                            "AMTSPULS_TRACKING_TOKEN": TOKEN,
                            # the realtime API is read here without a login
                            "AMTSPULS_API_AUTH": "false"}).start()
    yield srv
    if srv.proc is not None:
        srv.stop()


def via(ip: str, **headers: str) -> dict[str, str]:
    """Requests come through the trusted proxy (loopback) on behalf of `ip`."""
    return {"X-Forwarded-For": ip, **headers}


def mq(**params: str) -> str:
    return urlencode({"idsite": "1", "rec": "1", **params})


U = "https://www.musterstadt.de"


def test_matomo_get_answers_gif_or_204(server):
    r = request(server, "GET", "/matomo.php?" + mq(url=U + "/http/gif", action_name="GIF"),
                headers=via("192.0.2.10"))
    assert r.status == 200 and r.headers["content-type"] == "image/gif"
    assert r.body.startswith(b"GIF89a") and r.body.endswith(b";")
    r = request(server, "GET", "/piwik.php?" + mq(url=U + "/http/piwik", send_image="0",
                                                   _id="feedfacecafebeef", uid="max@example.de"),
                headers=via("192.0.2.10"))
    assert r.status == 204 and r.body == b""
    assert "set-cookie" not in r.headers


def test_matomo_post_form_body(server):
    body = mq(url=U + "/http/post", action_name="Formular-POST", send_image="0")
    r = request(server, "POST", "/matomo.php", body,
                via("192.0.2.11", **{"Content-Type": "application/x-www-form-urlencoded"}))
    assert r.status == 204


def test_matomo_bulk_counts_invalid_requests(server):
    good = ["?" + mq(url=U + f"/http/bulk-{x}") for x in "abc"]
    r = request(server, "POST", "/matomo.php",
                {"requests": [*good, "?idsite=1&rec=1"]}, via("192.0.2.12"))
    assert r.status == 200
    assert r.json() == {"status": "success", "tracked": 3, "invalid": 1, "invalid_indices": [3]}
    r = request(server, "POST", "/matomo.php", {"requests": ["?idsite=99&rec=1&url=x"]},
                via("192.0.2.12"))
    assert r.status == 400 and "requests[0]: unknown idsite" in r.json()["error"]


def test_matomo_cip_cdt_need_the_token(server):
    q = mq(url=U + "/http/cip", cip="203.0.113.77", cdt="2026-01-05 08:00:00", send_image="0")
    assert request(server, "GET", "/matomo.php?" + q + "&token_auth=falsch",
                   headers=via("192.0.2.13")).status == 400
    assert request(server, "GET", "/matomo.php?" + q + "&token_auth=" + TOKEN,
                   headers=via("192.0.2.13")).status == 204


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/matomo.php", "idsite is required"),
        ("/matomo.php?idsite=7&rec=1&url=x", "unknown idsite '7'"),
        ("/matomo.php?idsite=1&url=x", "rec=1"),
        ("/matomo.php?idsite=1&rec=1", "url is required"),
        ("/piwik.php?idsite=x&rec=1&url=x", "idsite must be"),
    ],
)
def test_matomo_errors_have_reasons(server, path, reason):
    r = request(server, "GET", path, headers=via("192.0.2.14"))
    assert r.status == 400 and reason in r.json()["error"]


def test_plausible_event(server):
    body = {"name": "pageview", "url": U + "/http/plausible", "domain": SITE, "referrer": None}
    r = request(server, "POST", "/api/event", body, via("192.0.2.15"))
    assert (r.status, r.body) == (202, b"ok")
    r = request(server, "POST", "/api/event", {**body, "domain": "unbekannt.de"}, via("192.0.2.15"))
    assert r.status == 400 and "unknown domain" in r.json()["error"]


def test_collect_single_and_list(server):
    r = request(server, "POST", "/api/collect",
                {"site": SITE, "type": "download", "url": U + "/http/collect",
                 "target": U + "/formulare/a.pdf"},
                via("192.0.2.16", **{"Content-Type": "text/plain;charset=UTF-8"}))
    assert (r.status, r.json()) == (202, {"accepted": 1})
    r = request(server, "POST", "/api/collect",
                {"site": 2, "events": [{"url": "https://www.nachbarort.de/a"},
                                       {"type": "not_found", "url": "https://www.nachbarort.de/b"}]},
                via("192.0.2.16"))
    assert (r.status, r.json()) == (202, {"accepted": 2})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"{nope", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"site": "www.musterstadt.de"}', "url is required"),
        (b'{"site": "www.musterstadt.de", "url": "x", "type": "hack"}', "unknown event type"),
        (b'{"site": "www.musterstadt.de", "events": [{"url": "x"}, {"url": "y", "results": "z"}]}',
         "events[1]: results must be a whole number"),
        (b'{"site": "unbekannt.de", "url": "x"}', "unknown site"),
    ],
)
def test_collect_errors_have_reasons(server, body, reason):
    r = request(server, "POST", "/api/collect", body, via("192.0.2.17"))
    assert r.status == 400, r.body
    assert reason in r.json()["error"]


def test_body_over_64_kb_is_413(server):
    big = json.dumps({"site": SITE, "url": U + "/x", "title": "x" * 70_000})
    r = request(server, "POST", "/api/collect", big, via("192.0.2.18"))
    assert r.status == 413 and "64 KB" in r.json()["error"]
    r = request(server, "POST", "/matomo.php", big, via("192.0.2.18"))
    assert r.status == 413


def test_rate_limit_per_address_is_429(server):
    body = {"site": SITE, "url": U + "/http/flood"}
    codes = [request(server, "POST", "/api/collect", body, via("198.51.100.99")).status
             for _ in range(80)]
    assert codes.count(202) >= 40 and 429 in codes
    # another address is not affected
    assert request(server, "POST", "/api/collect", body, via("198.51.100.100")).status == 202
    r = request(server, "POST", "/api/collect", body, via("198.51.100.99"))
    if r.status == 429:
        assert r.headers["retry-after"] == "1" and r.json()["error"]


def test_cors_preflight_and_headers(server):
    r = request(server, "OPTIONS", "/api/collect",
                headers={"Origin": "https://www.musterstadt.de",
                         "Access-Control-Request-Method": "POST"})
    assert r.status == 204 and r.headers["access-control-allow-origin"] == "*"


def test_tracker_script_is_small_and_served_gzipped(server):
    r = request(server, "GET", "/js/amtspuls.js", headers={"Accept-Encoding": "gzip"})
    assert r.status == 200 and r.headers["content-encoding"] == "gzip"
    assert "javascript" in r.headers["content-type"]
    assert len(r.body) <= 2048, len(r.body)
    source = gzip.decompress(r.body).decode()
    assert "sendBeacon" in source and "/api/collect" in source
    plain = request(server, "GET", "/js/amtspuls.js")
    assert plain.body.decode() == source
    again = request(server, "GET", "/js/amtspuls.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status == 304


def test_collect_endpoints_are_in_the_openapi_schema(server):
    paths = request(server, "GET", "/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/matomo.php"])
    assert {"get", "post"} <= set(paths["/piwik.php"])
    assert "post" in paths["/api/event"] and "post" in paths["/api/collect"]
    assert "/api/v1/realtime" in paths


def test_realtime_within_two_seconds_with_k_anonymity(server):
    for i in range(6):
        ip = f"10.{i}.0.1"  # six visitors (different /24 networks)
        request(server, "POST", "/api/collect",
                {"site": SITE, "events": [
                    {"url": U + "/realtime/bauantrag"},
                    {"type": "search", "url": U + "/suche?q=bauantrag", "query": "Bauantrag"}]},
                via(ip))
    request(server, "POST", "/api/collect", {"site": SITE, "url": U + "/realtime/selten"},
            via("10.99.0.1"))
    acknowledged = time.monotonic()
    body = None
    while time.monotonic() < acknowledged + 2.0:
        body = request(server, "GET", f"/api/v1/realtime?site={SITE}").json()
        if any(p["path"] == "/realtime/bauantrag" and p["visitors"] == 6
               for p in body["top_pages"]):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"not in the realtime view 2 s after the last event: {body}")
    assert set(body) == {"visitors_5min", "visitors_30min", "top_pages", "top_searches"}
    page = next(p for p in body["top_pages"] if p["path"] == "/realtime/bauantrag")
    assert page["visitors"] == 6 and page["pageviews"] == 6
    assert body["visitors_5min"] >= 7 and body["visitors_30min"] >= body["visitors_5min"]
    assert any(s["query"] == "bauantrag" and s["visitors"] == 6 for s in body["top_searches"])
    assert all(p["path"] != "/realtime/selten" for p in body["top_pages"])  # 1 visitor < k
    r = request(server, "GET", "/api/v1/realtime?site=unbekannt.de")
    assert r.status == 404 and r.json()["error"]


def test_after_a_clean_stop_the_store_holds_what_was_accepted(server):
    server.stop()
    rows = store_rows(server.data, "SELECT site_id, type, path, title, source, target, ts "
                                   "FROM events WHERE path LIKE '/http/%' OR site_id = 2")
    got = {(r["site_id"], r["type"], r["path"], r["source"]) for r in rows}
    assert {
        (1, "pageview", "/http/gif", "matomo"),
        (1, "pageview", "/http/piwik", "matomo"),
        (1, "pageview", "/http/post", "matomo"),
        (1, "pageview", "/http/bulk-a", "matomo"),
        (1, "pageview", "/http/bulk-c", "matomo"),
        (1, "pageview", "/http/cip", "matomo"),
        (1, "pageview", "/http/plausible", "plausible"),
        (1, "download", "/http/collect", "tracker"),
        (2, "pageview", "/a", "tracker"),
        (2, "not_found", "/b", "tracker"),
    } <= got
    cip = [r for r in rows if r["path"] == "/http/cip"]
    assert len(cip) == 1 and str(cip[0]["ts"]).startswith("2026-01-05 08:00:00")
    flood = store_rows(server.data, "SELECT count(*) AS n FROM events WHERE path = '/http/flood'")
    assert 40 <= flood[0]["n"] <= 80
    everything = json.dumps(store_rows(server.data, "SELECT * FROM events"), default=str)
    for secret in ("feedfacecafebeef", "max@example.de", "192.0.2.", "198.51.100.", CHROME_UA):
        assert secret not in everything
    assert list((server.data / "wal").iterdir()) == []


# -- units: client address and rate limit ------------------------------------------------

def test_forwarded_for_only_from_trusted_proxies():
    none = ClientAddress("")
    assert none("10.0.0.1", "203.0.113.5") == "10.0.0.1"
    proxies = ClientAddress("10.0.0.0/8, ::1")
    assert proxies("10.0.0.1", "203.0.113.5") == "203.0.113.5"
    assert proxies("10.0.0.1", "198.51.100.2, 203.0.113.5, 10.1.1.1") == "203.0.113.5"
    assert proxies("192.0.2.1", "203.0.113.5") == "192.0.2.1"  # not a trusted peer
    assert proxies("10.0.0.1", "not-an-ip") == "10.0.0.1"
    assert proxies("::1", "2001:db8::7") == "2001:db8::7"


def test_token_bucket():
    limiter = RateLimiter(rate=10, burst=20)
    assert sum(limiter.allow("a") for _ in range(50)) == 20
    assert limiter.allow("b")
    assert not limiter.allow("a", 5)
    assert RateLimiter(rate=0, burst=0).allow("a", 1e9)


@pytest.mark.filterwarnings("ignore:Using `httpx`")
def test_fast_path_in_front_of_the_app_in_process(tmp_path):
    from starlette.testclient import TestClient

    from amtspuls.config import load_settings
    from amtspuls.serve.app import create_app
    from amtspuls.serve.routes_collect import CollectFastPath
    from amtspuls.store import open_store

    settings = load_settings(tmp_path / "data")
    settings.api_auth = False  # the realtime API without a login (tests only)
    store = open_store(settings)
    store.add_site(SITE)
    store.close()
    app = create_app(settings)
    with TestClient(app, headers={"User-Agent": CHROME_UA}) as client:
        assert isinstance(app.middleware_stack, CollectFastPath)
        r = client.post("/api/collect", content=json.dumps({"site": SITE, "url": U + "/inproc"}))
        assert r.status_code == 202 and r.json() == {"accepted": 1}
        r = client.get("/matomo.php?" + mq(url=U + "/inproc", send_image="0"))
        assert r.status_code == 204 and "content-length" not in r.headers
        assert client.get(f"/api/v1/realtime?site={SITE}").status_code == 200  # passes on
    rows = store_rows(settings.data_dir, "SELECT path, source FROM events ORDER BY source")
    assert rows == [{"path": "/inproc", "source": "matomo"},
                    {"path": "/inproc", "source": "tracker"}]
