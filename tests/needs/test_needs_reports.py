"""The needs reports, topics and CLI on a hand-built site (tests/needs/needs_helpers.py):
figures counted by hand, k-anonymity, the JSON contract."""

from __future__ import annotations

import json

import pytest
from needs_helpers import EXPECTED_SEARCH, EXPECTED_SPCF, FROM, SECRET_QUERY, SITE, TO, cli

from amtspuls.analyze.reports import REPORTS


def report(data, name, *extra):
    run = cli(data, "report", name, "--site", SITE, "--from", FROM, "--to", TO, "--json", *extra)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def reports(site_data):
    out = {name: report(site_data, name) for name in
           ("search", "services", "forms", "frustration")}
    out["journeys"] = report(site_data, "journeys", "--service", "personalausweis")
    run = cli(site_data, "topics", "--site", SITE, "--from", FROM, "--to", TO, "--json")
    assert run.returncode == 0, run.stderr
    out["topics"] = json.loads(run.stdout)
    return out


def test_reports_are_registered():
    assert {"search", "services", "journeys", "forms", "frustration"} <= set(REPORTS)


def test_search_summary(reports):
    s = reports["search"]["summary"]
    for k, v in EXPECTED_SEARCH.items():
        assert s[k] == v, k
    assert s["service_page_share"] == round(16 / 36, 4)


def test_search_lists(reports):
    r = reports["search"]
    top = {row["query"]: row for row in r["top_queries"]}
    assert top["perso verlängern"]["service_id"] == "personalausweis"
    assert top["hallenbad"]["searches"] == 10 and top["hallenbad"]["no_results"] == 10
    assert [(x["query"], x["next_query"]) for x in r["refinements"]] == [
        ("schwimmbad", "hallenbad")]
    assert {x["query"]: x["exits"] for x in r["exits"]}["hallenbad"] == 5
    pages = {x["path"]: x["n"] for x in r["pages_after_search"]}
    assert pages == {"/leistungen/personalausweis": 6, "/leistungen/sperrmuell": 5,
                     "/leistungen/wohngeld": 5}


def test_searches_per_completed_form(reports):
    rows = {r["service_id"]: r for r in reports["search"]["searches_per_completed_form"]}
    for sid, (searches, submits) in EXPECTED_SPCF.items():
        assert rows[sid]["searches"] == searches and rows[sid]["form_submits"] == submits
        assert rows[sid]["searches_per_completed_form"] == round(searches / submits, 4)
    services = {r["service_id"]: r for r in reports["services"]["services"]}
    assert services["personalausweis"]["searches_per_completed_form"] == 1.5


def test_services(reports):
    s = {r["service_id"]: r for r in reports["services"]["services"]}["personalausweis"]
    assert (s["visits"], s["form_starts"], s["form_submits"], s["validation_errors"]) == (
        11, 11, 6, 5)
    assert s["searches"] == 9  # "perso verlängern" 6 + "ausweis" 3, mapped
    assert s["success_rate"] == round(6 / 11, 4) and s["abandonment_rate"] == round(5 / 11, 4)


def test_forms(reports):
    forms = {r["form"]: r for r in reports["forms"]["forms"]}
    assert forms["personalausweis"]["error_rate"] == round(5 / 11, 4)
    assert forms["personalausweis"]["abandoned_after_error"] == 5
    assert forms["sperrmuell"]["error_rate"] == 1.0
    fields = {(r["form"], r["field"]): r for r in reports["forms"]["fields"]}
    assert fields[("personalausweis", "geburtsdatum")]["errors"] == 5
    assert fields[("sperrmuell", "strasse")]["error_rate"] == 1.0


def test_frustration(reports):
    f = reports["frustration"]
    assert f["rage_clicks"][0]["path"] == "/leistungen/wohngeld"
    assert f["rage_clicks"][0]["rage_clicks"] == 5
    assert f["quick_backs"][0]["path"] == "/leistungen/wohngeld"
    assert f["quick_backs"][0]["quick_backs"] == 5
    assert f["search_loops"] == [{"query": "schwimmbad", "sessions": 5, "visitors": 5}]
    assert f["not_found"][0]["path"] == "/kaputt"
    assert f["not_found"][0]["referrers"] == [{"referrer_path": "/", "hits": 5}]


def test_journeys(reports):
    j = reports["journeys"]
    assert [s["sessions"] for s in j["funnel"]] == [11, 11, 6]
    to = {r["path"]: r["sessions"] for r in j["paths_to"]}
    assert to["(Einstieg) → / → Suche → /leistungen/personalausweis"] == 6
    assert to["(Einstieg) → /leistungen/personalausweis"] == 5
    assert j["give_up"] == [{"last_step": "Fehler im Feld geburtsdatum", "sessions": 5,
                             "visitors": 5}]


def test_topics(reports, site_data):
    t = reports["topics"]
    assert t["queries"] == 7 and t["searches"] == 36
    assert t["topics"], t
    for topic in t["topics"]:
        assert topic["label"] and topic["visitors"] >= 5
        assert {"size", "trend", "examples", "services", "no_result_share", "top_terms"} <= set(
            topic)
    by_example = {e: topic for topic in t["topics"] for e in topic["examples"]}
    assert by_example["perso verlängern"]["services"][0]["service_id"] == "personalausweis"
    assert by_example["hallenbad"]["no_result_share"] == 1.0
    # deterministic
    again = cli(site_data, "topics", "--site", SITE, "--from", FROM, "--to", TO, "--json")
    assert json.loads(again.stdout) == t


def test_k_anonymity_everywhere(reports):
    text = json.dumps(reports, ensure_ascii=False)
    assert SECRET_QUERY not in text and "geheim" not in text
    assert '"ausweis"' not in text  # 3 visitors only


def test_map_query_cli(site_data):
    run = cli(site_data, "map-query", "perso verlängern", "--json")
    assert run.returncode == 0, run.stderr
    r = json.loads(run.stdout)
    assert list(r) == ["query", "service_id", "score", "alternatives", "explanation"]
    assert r["service_id"] == "personalausweis"
    # the site's behaviour taught it a word no lexicon has
    assert json.loads(cli(site_data, "map-query", "zetteltrommel", "--json").stdout)[
        "service_id"] == "none"
    assert json.loads(cli(site_data, "map-query", "zetteltrommel", "--site", SITE,
                          "--json").stdout)["service_id"] == "wohngeld"


def test_map_queries_cli_keeps_order(site_data, tmp_path):
    queries = ["sperrmüll", "pizza", "wbs", "Hundemarke"]
    f = tmp_path / "q.txt"
    f.write_text("\n".join(queries) + "\n", "utf-8")
    run = cli(site_data, "map-queries", "--in", str(f), "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert [r["query"] for r in out] == queries
    assert [r["service_id"] for r in out] == ["sperrmuell", "none", "wohnberechtigungsschein",
                                             "hundesteuer"]


@pytest.mark.parametrize("args", [
    ["map-queries", "--in", "/nonexistent/file.txt", "--json"],
    ["topics", "--site", SITE, "--from", "gestern", "--json"],
    ["topics", "--site", SITE, "--semantic", "vielleicht", "--json"],
    ["report", "journeys", "--site", SITE, "--service", "gibtsnicht", "--json"],
])
def test_bad_input_exits_2(site_data, args):
    run = cli(site_data, *args)
    assert run.returncode == 2, run.stderr
    assert run.stdout == "" and len(run.stderr.strip().splitlines()) == 1
