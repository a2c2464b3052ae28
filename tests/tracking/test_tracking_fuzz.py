"""Fuzzing the collect endpoints from their OpenAPI description (schemathesis against a
real server) and with raw bytes: whatever comes, the answer is never a 5xx."""

from __future__ import annotations

import http.client

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from tracking_helpers import SITE, Server, cli

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402

COLLECT_PATHS = ("/matomo.php", "/piwik.php", "/api/event", "/api/collect")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("fuzz") / "data"
    assert cli(data, "site", "add", SITE).returncode == 0
    srv = Server(data, env={"AMTSPULS_COLLECT_RATE_LIMIT": "0"}).start()
    yield srv
    srv.stop()  # also checks that no traceback was logged


def test_schema_fuzz_never_5xx(server):
    """Every collect operation of the OpenAPI schema, with valid and invalid data
    (schemathesis' generators, ~50 examples per operation and mode)."""
    schema = schemathesis.openapi.from_url(server.base + "/openapi.json")
    operations = [r.ok() for r in schema.include(path=list(COLLECT_PATHS)).get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} >= {
        ("GET", "/matomo.php"), ("POST", "/matomo.php"), ("GET", "/piwik.php"),
        ("POST", "/api/event"), ("POST", "/api/collect")}
    statuses: dict[int, int] = {}
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck), database=None)
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case) -> None:
                response = case.call(base_url=server.base, timeout=10)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                assert response.status_code < 500, (case.method, case.path, case.query,
                                                    case.body, response.text[:300])

            run()
    assert statuses.get(400) and (statuses.get(202) or statuses.get(204) or statuses.get(200))


RAW_PATHS = [*COLLECT_PATHS, "/js/amtspuls.js"]


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(RAW_PATHS),
    method=st.sampled_from(["GET", "POST", "OPTIONS", "PUT"]),
    query=st.text(max_size=80),
    body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
    content_type=st.sampled_from(["application/json", "text/plain",
                                  "application/x-www-form-urlencoded", "image/gif"]),
)
def test_raw_requests_never_5xx(server, path, method, query, body, content_type):
    from urllib.parse import quote

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path + "?" + quote(query, safe="=&"),
                     body=body if method != "GET" else None,
                     headers={"Content-Type": content_type, "User-Agent": "Mozilla/5.0"})
        status = conn.getresponse().status
    finally:
        conn.close()
    assert status < 500
