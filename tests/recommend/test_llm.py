"""Optional LLM wording: what leaves the installation, and every way an answer can fail.

The endpoint is a real HTTP server on loopback speaking the chat-completions protocol
(`openai_standin.py`); expectations are written out by hand, not derived from the module.
"""

from __future__ import annotations

import copy
import json
import logging
import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai_standin import OpenAIStandin

from amtspuls.config import Settings, load_settings
from amtspuls.recommend import llm
from amtspuls.recommend.llm import (
    LLMConfig,
    apply_wording,
    generate_wording,
    llm_config,
    prompt_messages,
)

K = 5
GOOD = {
    "title": "Personalausweis: Suchbegriffe ohne Treffer ergänzen",
    "action": "412 Suchen blieben im Zeitraum bis 28. Januar 2026 ohne Treffer (üblich: 30). "
              "Synonym „perso verlängern“ in der Suche ergänzen.",
}


def make_rec(service: str = "personalausweis") -> dict:
    return {
        "id": "rec-7f3a9c", "kind": "zero_results", "service_id": service,
        "department": "Bürgerbüro",
        "title": f"Suchbegriffe ohne Treffer für {service}",
        "action": "Synonyme und Umgangssprache als Suchbegriffe der Leistungsseite ergänzen.",
        "evidence": [{
            "metric": "zero_result_searches", "value": 412, "baseline": 30,
            "period": "2026-01-01/2026-01-28",
            "examples": [
                {"text": "perso verlängern", "count": 57},
                {"text": "ausweis weg", "count": 3},
                {"text": "grenzfall genau k", "count": 5},
                {"text": "grenzfall knapp drunter", "count": 4},
                {"text": "termin max.mustermann@example.org", "count": 9},
                {"text": "rückruf 0221 1234567", "count": 8},
                {"text": "gebühr DE89 3704 0044 0532 0130 00", "count": 7},
            ],
        }],
        "impact": {"affected_visits_per_week": 103.0, "affected_requests_per_week": 0.0},
        "confidence": 0.8, "status": "open", "created": "2026-01-28T10:00:00Z",
    }


def sent_payload(messages: list[dict]) -> dict:
    content = messages[-1]["content"]
    return json.loads(content[content.index("{"):])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _empty_cache():
    llm._cache.clear()
    yield
    llm._cache.clear()


@pytest.fixture
def server():
    with OpenAIStandin(json.dumps(GOOD, ensure_ascii=False)) as standin:
        yield standin


def cfg_for(server: OpenAIStandin, **kw) -> LLMConfig:
    return LLMConfig(base_url=server.base_url, model="standin-7b", api_key=kw.pop("api_key", ""),
                     **kw)


# --- configuration --------------------------------------------------------------------


def test_config_off_without_base_url_and_from_settings():
    assert llm_config(Settings()) is None
    cfg = llm_config(Settings(llm_base_url="http://127.0.0.1:11434/v1", llm_model="m",
                              llm_api_key="k-1", llm_timeout_seconds=7))
    assert cfg == LLMConfig("http://127.0.0.1:11434/v1", "m", "k-1", 7.0, 400)


def test_api_key_from_environment_and_not_in_repr(tmp_path, monkeypatch):
    monkeypatch.setenv("AMTSPULS_LLM_BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("AMTSPULS_LLM_API_KEY", "geheim-4711")
    monkeypatch.setenv("AMTSPULS_LLM_TIMEOUT_SECONDS", "3")
    cfg = llm_config(load_settings(tmp_path))
    assert cfg is not None
    assert (cfg.base_url, cfg.api_key, cfg.timeout_seconds) == (
        "http://127.0.0.1:8080/v1", "geheim-4711", 3.0)
    assert "geheim-4711" not in repr(cfg)


# --- what is sent ---------------------------------------------------------------------


def test_request_carries_only_k_anonymous_scrubbed_figures(server):
    assert generate_wording(make_rec(), cfg_for(server), K) is not None
    assert len(server.requests) == 1
    req = server.requests[0]
    assert req.path == "/v1/chat/completions"
    raw = req.body
    text = json.dumps(req.json(), ensure_ascii=False)  # escapes undone, then re-joined
    body = req.json()
    assert body["model"] == "standin-7b"
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 400
    assert body["response_format"] == {"type": "json_object"}

    # below k: absent; at k and above: present
    for hidden in ("ausweis weg", "grenzfall knapp drunter"):
        assert hidden.encode() not in raw and hidden not in text
    for shown in ("perso verlängern", "grenzfall genau k"):
        assert shown in text
    # personal data only as placeholders, but the example itself still goes out
    for secret in ("max.mustermann@example.org", "mustermann", "0221 1234567", "1234567",
                   "DE89 3704 0044 0532 0130 00", "3704 0044", "DE89"):
        assert secret.encode() not in raw and secret not in text
    for placeholder in ("<EMAIL>", "<PHONE>", "<IBAN>"):
        assert placeholder in text
    assert "termin" in text and "rückruf" in text and "gebühr" in text
    # identifiers, lifecycle and timestamps never leave
    for private in ("rec-7f3a9c", '"open"', "status", "2026-01-28T10", "10:00:00", "created",
                    "confidence"):
        assert private not in text

    payload = sent_payload(body["messages"])
    assert payload["kind"] == "zero_results"
    assert payload["service_id"] == "personalausweis"
    assert payload["department"] == "Bürgerbüro"
    assert payload["title"] == "Suchbegriffe ohne Treffer für personalausweis"
    assert payload["action"].startswith("Synonyme und Umgangssprache")
    [ev] = payload["evidence"]
    assert (ev["metric"], ev["value"], ev["baseline"], ev["period"]) == (
        "zero_result_searches", 412, 30, "2026-01-01/2026-01-28")
    assert sorted(ex["count"] for ex in ev["examples"]) == [5, 7, 8, 9, 57]
    assert payload["impact"] == {"affected_visits_per_week": 103.0,
                                 "affected_requests_per_week": 0.0}
    assert body["messages"][0]["role"] == "system"
    assert "JSON" in body["messages"][0]["content"]
    assert "Zeichen" in body["messages"][0]["content"]


@settings(max_examples=150, deadline=None)
@given(
    examples=st.lists(
        st.tuples(st.text(alphabet=st.characters(exclude_characters="Q"), max_size=40),
                  st.integers(min_value=0, max_value=12)),
        max_size=8),
    k=st.integers(min_value=1, max_value=10),
)
def test_property_no_example_below_k_is_ever_in_the_prompt(examples, k):
    # Examples below k carry a marker with "Q" (no other text here contains one), set
    # apart by spaces so that no scrubber pattern can swallow it.
    items = [{"text": f"Q{i}Q {text} Q{i}Q" if count < k else text, "count": count}
             for i, (text, count) in enumerate(examples)]
    rec = {"kind": "zero_results", "title": "Suchbegriffe", "action": "ergänzen",
           "evidence": [{"metric": "zero_result_searches", "value": 1, "examples": items}]}
    messages = prompt_messages(rec, k)
    assert "Q" not in json.dumps(messages, ensure_ascii=False)
    sent = [ex for ev in sent_payload(messages).get("evidence", [])
            for ex in ev.get("examples", [])]
    assert all(ex["count"] >= k for ex in sent)
    assert len(sent) <= sum(1 for _, count in examples if count >= k)


# --- what comes back ------------------------------------------------------------------


def test_happy_path_marks_generated_and_keeps_deterministic_text(server):
    rec = make_rec()
    before = copy.deepcopy(rec)
    wording = generate_wording(rec, cfg_for(server), K)
    assert wording == {**GOOD, "model": "standin-7b", "generated": True}
    assert rec == before


def test_fenced_answer_and_limits_exactly_reached_are_accepted(server):
    answer = {"title": "T" * 90, "action": "a" * 600}
    server.content = "```json\n" + json.dumps(answer) + "\n```"
    assert generate_wording(make_rec(), cfg_for(server), K) == {
        **answer, "model": "standin-7b", "generated": True}


def test_trailing_slash_in_base_url(server):
    cfg = LLMConfig(base_url=server.base_url + "/", model="m", api_key="")
    assert generate_wording(make_rec(), cfg, K) is not None
    assert server.requests[0].path == "/v1/chat/completions"


def test_timeout_falls_back_quickly(server):
    server.delay = 2.0
    started = time.monotonic()
    assert generate_wording(make_rec(), cfg_for(server, timeout_seconds=0.5), K) is None
    assert time.monotonic() - started < 1.5


def test_http_500_logs_one_warning_without_key(server, caplog):
    server.status = 500
    with caplog.at_level(logging.WARNING, logger="amtspuls.recommend.llm"):
        assert generate_wording(make_rec(), cfg_for(server, api_key="s3cret-xyz"), K) is None
    records = [r for r in caplog.records if r.name == "amtspuls.recommend.llm"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert "500" in records[0].getMessage()
    assert "s3cret-xyz" not in caplog.text


def test_connection_refused_returns_none():
    cfg = LLMConfig(base_url=f"http://127.0.0.1:{closed_port()}/v1", model="m", api_key="")
    assert generate_wording(make_rec(), cfg, K) is None


@pytest.mark.parametrize("content", [
    "Gerne! Hier ist mein Vorschlag: Synonyme ergänzen.",
    json.dumps({"titel": "Suchbegriffe ergänzen", "text": "Synonyme ergänzen."}),
    json.dumps(["Suchbegriffe ergänzen", "Synonyme ergänzen."]),
    json.dumps({"title": "", "action": "Synonyme ergänzen."}),
    json.dumps({"title": "Suchbegriffe ergänzen", "action": "   "}),
    json.dumps({"title": 412, "action": "Synonyme ergänzen."}),
    json.dumps({"title": "T" * 91, "action": "Synonyme ergänzen."}),
    json.dumps({"title": "Suchbegriffe ergänzen", "action": "a" * 601}),
    json.dumps({"title": "Suchbegriffe ergänzen", "action": "999 Suchen blieben ohne Treffer."}),
    json.dumps({"title": "Suchbegriffe ergänzen", "action": "Etwa 41 % der 412 Suchen."}),
    json.dumps({"title": "Suchbegriffe ergänzen", "action": "<b>Synonyme</b> ergänzen."}),
    json.dumps({"title": "Suchbegriffe ergänzen", "action": "Siehe https://example.org."}),
], ids=["not-json", "wrong-keys", "array", "empty-title", "blank-action", "title-not-text",
        "title-91", "action-601", "invented-number", "invented-percent", "html", "link"])
def test_malformed_answers_are_rejected(server, content):
    server.content = content
    assert generate_wording(make_rec(), cfg_for(server), K) is None
    assert len(server.requests) == 1


def test_authorization_header_only_with_key(server):
    generate_wording(make_rec(), cfg_for(server), K)
    generate_wording(make_rec(), cfg_for(server, api_key="tok-123"), K)
    without, with_key = server.requests
    assert "authorization" not in without.headers
    assert with_key.headers["authorization"] == "Bearer tok-123"


# --- apply_wording --------------------------------------------------------------------


def test_apply_without_config_adds_nothing():
    recs = [make_rec("a"), make_rec("b")]
    before = copy.deepcopy(recs)
    assert apply_wording(recs, None, K) == before


def test_apply_limits_keeps_text_and_caches(server):
    recs = [make_rec("a"), make_rec("b"), make_rec("c")]
    before = copy.deepcopy(recs)
    out = apply_wording(recs, cfg_for(server), K, limit=2)
    assert [("wording" in r) for r in out] == [True, True, False]
    for rec, old in zip(out, before, strict=True):
        assert (rec["title"], rec["action"], rec["evidence"]) == (
            old["title"], old["action"], old["evidence"])
    assert out[0]["wording"] == {**GOOD, "model": "standin-7b", "generated": True}
    assert len(server.requests) == 2

    again = apply_wording(copy.deepcopy(before), cfg_for(server), K, limit=2)
    assert len(server.requests) == 2  # identical payloads are not sent twice
    assert again[1]["wording"] == out[1]["wording"]


def test_apply_failure_leaves_no_wording_and_stops_the_batch(server):
    server.status = 500
    stale = {**make_rec("a"), "wording": {"title": "alt", "action": "alt", "generated": True}}
    recs = apply_wording([stale, make_rec("b"), make_rec("c")], cfg_for(server), K)
    assert not any("wording" in r for r in recs)
    assert len(server.requests) == 1  # the endpoint failed: the rest is not tried

    server.status = 200  # an endpoint failure is not cached: it recovers
    recs = apply_wording([make_rec("a")], cfg_for(server), K)
    assert recs[0]["wording"]["generated"] is True


def test_apply_rejected_answer_leaves_no_wording(server):
    server.content = json.dumps({"title": "Suchbegriffe", "action": "777 Suchen."})
    recs = apply_wording([make_rec("a"), make_rec("b")], cfg_for(server), K)
    assert not any("wording" in r for r in recs)
    assert len(server.requests) == 2  # a bad answer says nothing about the next rec
