"""Parsing of the three tracking wire formats, example by example and by property."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amtspuls.collect.events import BadEvent, event_row
from amtspuls.collect.tracking import (
    matomo_bulk,
    matomo_params,
    parse_collect,
    parse_matomo,
    parse_plausible,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def no_token(_: str | None) -> bool:
    return False


def token_is(secret: str):
    return lambda t: t == secret


def m(**params: str) -> dict[str, str]:
    return {"idsite": "1", "rec": "1", "url": "https://www.musterstadt.de/a", **params}


# -- Matomo --------------------------------------------------------------------------------

def test_matomo_pageview_keeps_title_and_referrer_drops_ids():
    t = parse_matomo(m(action_name="Rathaus", urlref="https://www.google.de/",
                       _id="abcdef0123456789", uid="max@example.de", cid="0123456789abcdef",
                       res="1920x1080", lang="de", h="9", m="3", s="12", pv_id="AbC123"),
                     no_token)
    assert t.site == "1"
    assert t.event == {"type": "pageview", "url": "https://www.musterstadt.de/a",
                       "referrer": "https://www.google.de/", "title": "Rathaus"}
    assert "abcdef0123456789" not in repr(t) and "max@example.de" not in repr(t)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"search": "Reisepass", "search_cat": "Bürgerservice", "search_count": "4"},
         {"type": "search", "query": "Reisepass", "category": "Bürgerservice", "results": "4"}),
        ({"download": "https://www.musterstadt.de/formulare/antrag.pdf"},
         {"type": "download", "target": "https://www.musterstadt.de/formulare/antrag.pdf"}),
        ({"link": "https://www.service-bw.de/"},
         {"type": "outlink", "target": "https://www.service-bw.de/"}),
        ({"e_c": "Formular", "e_a": "Absenden", "e_n": "Wohngeld", "e_v": "2"},
         {"type": "custom", "category": "Formular", "action": "Absenden", "name": "Wohngeld",
          "value": "2"}),
    ],
)
def test_matomo_action_types(params, expected):
    t = parse_matomo(m(**params), no_token)
    for key, value in expected.items():
        assert t.event[key] == value


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"idsite": ""}, "idsite is required"),
        ({"idsite": "abc"}, "idsite must be"),
        ({"idsite": "0"}, "idsite must be"),
        ({"rec": "0"}, "rec=1"),
        ({"url": ""}, "url is required"),
        ({"e_c": "Formular"}, "e_c"),
        ({"cip": "1.2.3.4", "token_auth": "wrong"}, "token_auth"),
    ],
)
def test_matomo_rejects_with_reason(params, reason):
    with pytest.raises(BadEvent, match=reason):
        parse_matomo(m(**params), token_is("geheim"))


def test_matomo_records_nothing_for_pings_and_goals():
    assert parse_matomo(m(ping="1"), no_token) is None
    assert parse_matomo(m(idgoal="3"), no_token) is None
    assert parse_matomo(m(c_n="Banner"), no_token) is None


def test_matomo_cip_and_cdt_need_the_token():
    plain = parse_matomo(m(cip="198.51.100.7", cdt="1772443800"), no_token)
    assert plain.ip is None and plain.ts is None  # ignored without a token
    t = parse_matomo(m(cip="198.51.100.7", cdt="2026-03-02 08:10:00", token_auth="geheim",
                       ua="Mozilla/5.0 Test"), token_is("geheim"), NOW)
    assert t.ip == "198.51.100.7"
    assert t.ts == datetime(2026, 3, 2, 8, 10, tzinfo=UTC)
    assert t.ua == "Mozilla/5.0 Test"
    with pytest.raises(BadEvent, match="future"):
        parse_matomo(m(cdt="2026-03-03 08:10:00", token_auth="geheim"), token_is("geheim"), NOW)


def test_matomo_params_and_bulk():
    q = urlencode({"idsite": "1", "rec": "1", "url": "https://x.de/a?b=c&d=e"})
    assert matomo_params("?" + q)["url"] == "https://x.de/a?b=c&d=e"
    assert matomo_params("/matomo.php?" + q)["idsite"] == "1"
    requests, token = matomo_bulk({"requests": ["?" + q, "?" + q], "token_auth": "t"})
    assert len(requests) == 2 and token == "t"
    for bad in ({}, {"requests": "x"}, {"requests": []}, {"requests": [1]}, []):
        with pytest.raises(BadEvent):
            matomo_bulk(bad)


# -- Plausible -----------------------------------------------------------------------------

def test_plausible_long_and_short_keys():
    long = parse_plausible({"name": "pageview", "url": "https://www.musterstadt.de/a",
                            "domain": "www.musterstadt.de", "referrer": "https://www.bing.com/"})
    short = parse_plausible({"n": "pageview", "u": "https://www.musterstadt.de/a",
                             "d": "www.musterstadt.de", "r": "https://www.bing.com/"})
    assert long[0].event == short[0].event == {
        "type": "pageview", "url": "https://www.musterstadt.de/a",
        "referrer": "https://www.bing.com/"}
    assert long[0].site == "www.musterstadt.de"


def test_plausible_standard_events_and_props_dropped():
    dl = parse_plausible({"name": "File Download", "url": "https://a.de/", "domain": "a.de",
                          "props": {"url": "https://a.de/f.pdf"}})[0]
    assert dl.event["type"] == "download" and dl.event["target"] == "https://a.de/f.pdf"
    out = parse_plausible({"name": "Outbound Link: Click", "url": "https://a.de/", "domain": "a.de",
                           "props": {"url": "https://b.de/"}})[0]
    assert out.event["type"] == "outlink"
    nf = parse_plausible({"name": "404", "url": "https://a.de/x", "domain": "a.de"})[0]
    assert nf.event["type"] == "not_found"
    custom = parse_plausible({"name": "Newsletter", "url": "https://a.de/", "domain": "a.de,b.de",
                              "props": {"email": "max@example.de"}})
    assert [c.site for c in custom] == ["a.de", "b.de"]
    assert custom[0].event == {"type": "custom", "url": "https://a.de/", "referrer": None,
                               "name": "Newsletter"}


@pytest.mark.parametrize("body", [[], "x", {"url": "u", "domain": "d"},
                                  {"name": "pageview", "domain": "d"},
                                  {"name": "pageview", "url": "u"},
                                  {"name": "File Download", "url": "u", "domain": "d"},
                                  {"name": "x", "url": "u", "domain": "d", "props": [1]}])
def test_plausible_rejects(body):
    with pytest.raises(BadEvent):
        parse_plausible(body)


# -- own tracker ---------------------------------------------------------------------------

def test_collect_single_and_list_drop_server_fields():
    one = parse_collect({"site": "www.musterstadt.de", "type": "form_error", "url": "https://x/",
                         "form": "antrag", "field": "email", "ts": "2020-01-01T00:00:00Z",
                         "ip": "1.2.3.4", "ua": "forged"})
    assert one[0].event == {"type": "form_error", "url": "https://x/", "form": "antrag",
                            "field": "email"}
    many = parse_collect({"site": 1, "events": [{"url": "https://x/a"},
                                                {"url": "https://x/b", "site": "other.de"}]})
    assert [t.site for t in many] == ["1", "other.de"]


@pytest.mark.parametrize("body", [[], {"url": "x"}, {"site": True, "url": "x"},
                                  {"site": "a", "events": []}, {"site": "a", "events": [1]},
                                  {"site": "a", "events": {"url": "x"}}])
def test_collect_rejects(body):
    with pytest.raises(BadEvent):
        parse_collect(body)


# -- properties: any input gives events or a reason, nothing else -------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12,
)
MATOMO_KEYS = ["idsite", "rec", "url", "action_name", "urlref", "search", "search_cat",
               "search_count", "download", "link", "e_c", "e_a", "e_n", "e_v", "ua", "cip",
               "cdt", "token_auth", "ping", "send_image", "_id"]


def _validate(tracked) -> None:
    for t in tracked:
        if t is not None:
            event_row({**t.event, "ip": "127.0.0.1", "ua": t.ua}, t.ts or NOW)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(MATOMO_KEYS), st.text(max_size=40), max_size=12),
       st.booleans())
def test_matomo_any_params(params, with_defaults):
    if with_defaults:
        params = {"idsite": "1", "rec": "1", "url": "https://x.de/", **params}
    with contextlib.suppress(BadEvent):
        _validate([parse_matomo(params, token_is("geheim"), NOW)])


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_matomo_any_query_string(query):
    with contextlib.suppress(BadEvent):
        _validate([parse_matomo(matomo_params(query), no_token, NOW)])


@settings(max_examples=150, deadline=None)
@given(json_values, st.sampled_from(["plausible", "collect"]))
def test_json_bodies_any_shape(body, kind):
    with contextlib.suppress(BadEvent):
        _validate(parse_plausible(body) if kind == "plausible" else parse_collect(body))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["n", "u", "d", "r", "p", "name", "url", "domain", "props",
                                        "e", "type", "site", "events", "results", "value",
                                        "query", "target", "engagement_ms", "title", "form"]),
                       json_values, max_size=8))
def test_json_objects_with_known_keys(body):
    for parse in (parse_plausible, parse_collect):
        with contextlib.suppress(BadEvent):
            _validate(parse(body))
