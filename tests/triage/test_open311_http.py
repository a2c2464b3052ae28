"""Open311 GeoReport v2 as a client sees it: a real server on loopback, form-encoded POSTs,
JSON and XML answers, and every error case of the spec (400, 403, 404 as a list of
{code, description})."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import httpx
import pytest

V2 = "/open311/v2"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
PHONE = re.compile(r"\d{3,5}[ /-]?\d{5,}")


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.base, timeout=60) as c:
        yield c


def xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml"), response.text[:200]
    return ET.fromstring(response.content)


def assert_error(response: httpx.Response, code: int, fmt: str = "json") -> str:
    assert response.status_code == code, (response.status_code, response.text[:300])
    if fmt == "json":
        body = response.json()
        assert isinstance(body, list) and len(body) == 1
        assert body[0]["code"] == code and body[0]["description"]
        return body[0]["description"]
    root = xml(response)
    assert root.tag == "errors"
    err = root.find("error")
    assert err is not None and err.findtext("code") == str(code)
    assert err.findtext("description")
    return err.findtext("description") or ""


def post(client, server, fmt="json", **fields):
    data = {"api_key": server.api_key, "service_code": "strassenbeleuchtung",
            "lat": "51.2561", "long": "7.7483", "description": "Laterne kaputt."}
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(f"{V2}/requests.{fmt}", data=data)


# ----------------------------------------------------------------------------- reads

def test_discovery_json_and_xml(client):
    body = client.get(f"{V2}/discovery.json").json()
    ep = body["endpoints"][0]
    assert ep["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert ep["url"].endswith("/open311/v2/")
    assert set(ep["formats"]) == {"application/json", "text/xml"}
    root = xml(client.get(f"{V2}/discovery.xml"))
    assert root.tag == "discovery"
    assert root.find("endpoints/endpoint/specification").text.endswith("GeoReport_v2")


def test_services_list_reportable_catalogue_services(client):
    services = client.get(f"{V2}/services.json").json()
    codes = {s["service_code"] for s in services}
    for expected in ("strassenschaden", "strassenbeleuchtung", "baum_gefahr",
                     "illegale_muellablagerung", "laermbelaestigung", "falschparker",
                     "spielplatz", "muelltonne", "hochwasser", "beschwerde"):
        assert expected in codes
    assert "personalausweis" not in codes  # not a report about public space
    light = next(s for s in services if s["service_code"] == "strassenbeleuchtung")
    assert light["metadata"] is True and light["type"] in ("realtime", "batch", "blackbox")
    assert light["group"] and "laterne" in light["keywords"].lower()
    root = xml(client.get(f"{V2}/services.xml"))
    assert root.tag == "services"
    assert len(root.findall("service")) == len(services)
    assert {s.findtext("service_code") for s in root.findall("service")} == codes


def test_service_definition(client):
    body = client.get(f"{V2}/services/strassenschaden.json").json()
    assert body["service_code"] == "strassenschaden"
    attr = body["attributes"][0]
    assert {"variable", "code", "datatype", "required", "order", "description",
            "values"} <= set(attr)
    assert attr["datatype"] == "singlevaluelist"
    assert {"key", "name"} <= set(attr["values"][0])
    root = xml(client.get(f"{V2}/services/strassenschaden.xml"))
    assert root.tag == "service_definition"
    assert root.find("attributes/attribute/values/value/key") is not None
    assert_error(client.get(f"{V2}/services/gibtsnicht.json"), 404)
    assert_error(client.get(f"{V2}/services/gibtsnicht.xml"), 404, "xml")


def test_unknown_jurisdiction_is_404(client):
    for url in ("services.json", "services/strassenschaden.json", "requests.json",
                "requests/1.json", "tokens/x.json"):
        assert_error(client.get(f"{V2}/{url}", params={"jurisdiction_id": "www.gibtsnicht.de"}),
                     404)
    assert_error(client.get(f"{V2}/services.xml", params={"jurisdiction_id": "x y"}), 404, "xml")


# ----------------------------------------------------------------------------- POST errors

def test_post_errors(client, server):
    assert_error(post(client, server, api_key=None), 403)
    assert_error(post(client, server, api_key="falsch"), 403)
    assert_error(post(client, server, "xml", api_key="falsch"), 403, "xml")
    assert_error(post(client, server, service_code=None), 400)
    assert_error(post(client, server, service_code=""), 400)
    assert_error(post(client, server, service_code="gibtsnicht"), 404)
    assert_error(post(client, server, "xml", service_code="gibtsnicht"), 404, "xml")
    assert_error(post(client, server, jurisdiction_id="www.gibtsnicht.de"), 404)
    assert_error(post(client, server, lat=None, long=None), 400)  # no location at all
    assert_error(post(client, server, lat="51.2", long=None), 400)
    assert_error(post(client, server, lat="abc"), 400)
    assert_error(post(client, server, lat="123"), 400)
    assert_error(post(client, server, **{"attribute[farbe]": "rot"}), 400)
    assert_error(post(client, server, service_code="strassenschaden",
                      **{"attribute[art]": "Erdbeben"}), 400)
    assert_error(post(client, server, media_url="javascript:alert(1)"), 400)
    # a body that is not a form
    r = client.post(f"{V2}/requests.json", content=b"\x00\x01", headers={
        "content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 400


# ----------------------------------------------------------------------------- round trip

def test_post_and_read_back_json(client, server):
    text = ("Mein Name ist Petra Weber. Die Straßenlaterne vor Hausnummer 12 ist seit Tagen "
            "aus, es ist stockdunkel auf dem Schulweg. Rückruf bitte unter 0171 2345678 oder "
            "petra.weber@example.org.\nMit freundlichen Grüßen\nPetra Weber")
    r = post(client, server, description=text, email="petra.weber@example.org",
             first_name="Petra", last_name="Weber", address_string="Goethestraße 12",
             **{"attribute[mast_nummer]": "4711"})
    assert r.status_code == 200, r.text
    created = r.json()
    assert isinstance(created, list) and len(created) == 1
    rid, token = created[0]["service_request_id"], created[0]["token"]
    assert rid and token

    got = client.get(f"{V2}/requests/{rid}.json").json()
    assert len(got) == 1
    req = got[0]
    assert req["service_request_id"] == rid and req["status"] == "open"
    assert req["service_code"] == "strassenbeleuchtung"
    assert req["agency_responsible"] == "Tiefbauamt"
    desc = req["description"]
    assert "Laterne" in desc or "laterne" in desc
    assert not EMAIL.search(desc) and not PHONE.search(desc)
    assert "Petra" not in desc and "Weber" not in desc
    assert "email" not in req and "first_name" not in req
    requested = datetime.fromisoformat(req["requested_datetime"])
    assert abs(requested - datetime.now(UTC)) < timedelta(minutes=5)
    tri = req["triage"]
    assert tri["service_request_id"] == rid
    assert len(tri["category"]) == 3
    assert tri["category"][0]["service_id"] == "strassenbeleuchtung"
    assert all(0 <= c["probability"] <= 1 for c in tri["category"])
    assert tri["priority"] in (1, 2)  # danger on a school way
    assert any(r["rule"] != "basis" for r in tri["priority_reasons"])
    assert tri["department"] == "Tiefbauamt"
    assert tri["duplicate_group"] == rid

    tok = client.get(f"{V2}/tokens/{token}.json").json()
    assert tok == [{"service_request_id": rid, "token": token}]
    assert_error(client.get(f"{V2}/tokens/gibtsnicht.json"), 404)
    assert_error(client.get(f"{V2}/requests/gibtsnicht.json"), 404)
    assert_error(client.get(f"{V2}/requests/gibtsnicht.xml"), 404, "xml")

    # the raw text: only for a clerk, through the review API
    assert client.get(f"/api/v1/requests/{rid}", headers={"X-API-Key": server.api_key}
                      ).status_code == 403
    plain = client.get(f"/api/v1/requests/{rid}").json()
    assert "description_raw" not in plain
    raw = client.get(f"/api/v1/requests/{rid}", headers={"X-API-Key": server.clerk_key}).json()
    assert raw["description_raw"] == text
    assert raw["contact"]["email"] == "petra.weber@example.org"


def test_post_and_read_back_xml(client, server):
    r = post(client, server, "xml", service_code="illegale_muellablagerung",
             description="Am Waldrand wurden alte Reifen und eine Matratze abgeladen.")
    root = xml(r)
    assert root.tag == "service_requests"
    rid = root.findtext("request/service_request_id")
    token = root.findtext("request/token")
    assert rid and token
    one = xml(client.get(f"{V2}/requests/{rid}.xml"))
    req = one.find("request")
    assert req.findtext("service_request_id") == rid
    assert req.findtext("service_code") == "illegale_muellablagerung"
    assert req.findtext("status") == "open"
    assert req.find("triage/category/suggestion/service_id") is not None
    assert len(req.findall("triage/category/suggestion")) == 3
    assert xml(client.get(f"{V2}/tokens/{token}.xml")).findtext(
        "request/service_request_id") == rid


def test_get_requests_filters(client, server):
    ids = []
    for code, text in (("falschparker", "Ein Auto parkt seit Tagen auf dem Gehweg."),
                       ("laermbelaestigung", "Laute Musik jede Nacht bis drei Uhr."),
                       ("falschparker", "Die Feuerwehrzufahrt ist zugeparkt.")):
        r = post(client, server, service_code=code, description=text,
                 lat="51.2601", long="7.7401")
        ids.append(r.json()[0]["service_request_id"])
    everything = client.get(f"{V2}/requests.json").json()  # default: last 90 days
    assert set(ids) <= {r["service_request_id"] for r in everything}
    assert len(everything) <= 1000
    by_id = client.get(f"{V2}/requests.json",
                       params={"service_request_id": f"{ids[0]},{ids[2]}"}).json()
    assert {r["service_request_id"] for r in by_id} == {ids[0], ids[2]}
    parkers = client.get(f"{V2}/requests.json", params={"service_code": "falschparker"}).json()
    assert {ids[0], ids[2]} <= {r["service_request_id"] for r in parkers}
    assert all(r["service_code"] == "falschparker" for r in parkers)
    assert client.get(f"{V2}/requests.json", params={"status": "closed"}).json() == []
    assert ids[1] in {r["service_request_id"] for r in client.get(
        f"{V2}/requests.json", params={"status": "open,closed"}).json()}
    now = datetime.now(UTC)
    window = {"start_date": (now - timedelta(days=1)).isoformat(),
              "end_date": (now + timedelta(days=1)).isoformat()}
    assert set(ids) <= {r["service_request_id"] for r in client.get(
        f"{V2}/requests.json", params=window).json()}
    old = {"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-02-01T00:00:00Z"}
    assert client.get(f"{V2}/requests.json", params=old).json() == []
    root = xml(client.get(f"{V2}/requests.xml", params={"service_code": "falschparker"}))
    assert {e.findtext("service_request_id") for e in root.findall("request")} >= {
        ids[0], ids[2]}
    # errors
    assert_error(client.get(f"{V2}/requests.json", params={
        "start_date": "2020-01-01T00:00:00Z", "end_date": "2020-12-31T00:00:00Z"}), 400)
    assert_error(client.get(f"{V2}/requests.json", params={"start_date": "gestern"}), 400)
    assert_error(client.get(f"{V2}/requests.json", params={
        "start_date": "2020-02-01", "end_date": "2020-01-01"}), 400)
    assert_error(client.get(f"{V2}/requests.json", params={"status": "vielleicht"}), 400)
    assert_error(client.get(f"{V2}/requests.json", params={"service_code": "gibtsnicht"}), 404)
    assert_error(client.get(f"{V2}/requests.xml", params={"status": "x"}), 400, "xml")
    # the other jurisdiction has none of them
    assert client.get(f"{V2}/requests.json",
                      params={"jurisdiction_id": "www.nachbarstadt.de"}).json() == []


def test_review_api(client, server):
    r = post(client, server, service_code="strassenschaden",
             description="Der Baum ist umgestürzt und liegt quer über der Fahrbahn!")
    rid = r.json()[0]["service_request_id"]
    review = {"decision": "correct", "service_id": "baum_gefahr", "priority": 1}
    assert client.post(f"/api/v1/requests/{rid}/review", json=review).status_code == 403
    assert client.post(f"/api/v1/requests/{rid}/review", json=review,
                       headers={"X-API-Key": server.api_key}).status_code == 403
    ok = client.post(f"/api/v1/requests/{rid}/review", json=review,
                     headers={"X-API-Key": server.clerk_key})
    assert ok.status_code == 200, ok.text
    assert ok.json()["department"] == "Grünflächenamt"
    bad = client.post(f"/api/v1/requests/{rid}/review", json={"decision": "vielleicht"},
                      headers={"X-API-Key": server.clerk_key})
    assert bad.status_code == 400
    assert client.post("/api/v1/requests/gibtsnicht/review", json=review,
                       headers={"X-API-Key": server.clerk_key}).status_code == 404
    # routed to the corrected service
    req = client.get(f"{V2}/requests/{rid}.json").json()[0]
    assert req["service_code"] == "baum_gefahr" and req["agency_responsible"] == "Grünflächenamt"
    log = client.get(f"/api/v1/requests/{rid}/log", headers={"X-API-Key": server.clerk_key})
    entries = log.json()
    assert entries and entries[0]["model_version"]
    assert entries[0]["inputs"]["text"] and "suggestion" in entries[0]
    card = client.get("/api/v1/triage/model-card").json()
    assert card["model_version"] and "current" in card
