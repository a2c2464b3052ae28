"""Search queries as citizens type them, and the site search's result counts."""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import replace

import pytest

from amtspuls.simulate.city import build_city
from amtspuls.simulate.config import QueryConfig, SimConfig
from amtspuls.simulate.data import load
from amtspuls.simulate.queries import QueryGenerator
from amtspuls.simulate.search import SiteSearch

from .conftest import Run

_WORD = re.compile(r"[a-zäöüß0-9]+")
FOLD_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
FOLD_DROP = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "s"})


def vocabulary() -> set[str]:
    """Every word the generator may use, read from the word lists (not from the generator)."""
    words: set[str] = set()
    texts: list[str] = []
    for svc in load("services.toml").values():
        for key in ("terms", "colloquial", "actions", "english"):
            texts.extend(svc.get(key, ()))
    q = load("words.toml")["queries"]
    texts += q["questions"] + q["generic_actions"] + q["city_suffix"] + q["missing_english"]
    for topic, mods in q["missing"]:
        texts += [topic, *mods]
    from amtspuls.catalog import load_catalog

    texts += [s.name_de for s in load_catalog()]
    for t in texts:
        for w in _WORD.findall(t.lower()):
            words |= {w, w.translate(FOLD_ASCII), w.translate(FOLD_DROP)}
    return words


VOCAB = vocabulary()


def unknown_share(queries: list[str]) -> float:
    bad = sum(1 for q in queries if any(w not in VOCAB for w in _WORD.findall(q.lower())))
    return bad / len(queries)


def _generate(cfg: QueryConfig, n: int = 4000, seed: int = 5) -> list[str]:
    city = build_city(SimConfig().start, 30, "www.musterstadt.de", random.Random(1))
    gen = QueryGenerator(cfg)
    rnd = random.Random(seed)
    return [gen.for_service(rnd.choice(city.services), rnd).text for _ in range(n)]


def test_no_typos_configured_gives_known_words_only():
    cfg = QueryConfig(typo_rate=0.0, compound_split_rate=0.0, compound_join_rate=0.0)
    assert unknown_share(_generate(cfg)) < 0.005


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_typo_rate_as_configured(rate: float):
    cfg = QueryConfig(typo_rate=rate, compound_split_rate=0.0, compound_join_rate=0.0)
    share = unknown_share(_generate(cfg))
    assert rate - 0.05 <= share <= rate + 0.03, share


def test_queries_look_typed_by_citizens():
    qs = _generate(QueryConfig(), n=6000)
    lower = sum(q == q.lower() for q in qs) / len(qs)
    assert 0.8 <= lower <= 0.97
    assert sum(q.startswith(("wie ", "wo ", "was ", "wann ")) for q in qs) / len(qs) > 0.01
    assert len(set(qs)) > 0.4 * len(qs), "vocabulary must not be a short fixed list"
    joined = " ".join(qs)
    for word in ("perso", "ummelden", "sperrmüll", "knöllchen"):
        assert word in joined, word
    assert re.search(r"\b\w*(ae|oe|ue)\w*\b", joined)  # umlauts written out
    assert any(q.count(" ") >= 3 for q in qs)
    lengths = Counter(len(q.split()) for q in qs)
    assert lengths[1] > 0 and lengths[2] > 0 and lengths[3] > 0


def test_typo_share_in_run_matches_config(run: Run):
    queries = [e["query"] for e in run.events if e["type"] == "search"]
    assert len(queries) > 500
    configured = run.config.queries.typo_rate
    assert abs(run.truth["query_typo_share"] - configured) < 0.03
    # Independently: queries with a word outside the vocabulary (typos, split compounds).
    share = unknown_share(queries)
    assert configured - 0.04 <= share <= configured + 0.15, share


def test_zero_results_and_intents(run: Run):
    searches = [e for e in run.events if e["type"] == "search"]
    zero = [e for e in searches if e["results"] == 0]
    assert 0.05 <= len(zero) / len(searches) <= 0.5
    intents = run.truth["search_queries"]
    for e in searches:
        assert e["query"] in intents
    assert "none" in set(intents.values())
    ids = {s for s in intents.values() if s != "none"}
    assert len(ids) > 30


@pytest.fixture(scope="module")
def engine() -> SiteSearch:
    city = build_city(SimConfig().start, 30, "www.musterstadt.de", random.Random(1))
    cfg = replace(QueryConfig(), synonym_coverage=0.0)
    return SiteSearch(city, cfg, random.Random(2))


def test_site_search_tolerance(engine: SiteSearch):
    by_id = {s.id: s.idx for s in engine_services(engine)}
    hit = engine.lookup("personalausweis")
    assert hit.count > 0 and by_id["personalausweis"] in hit.services
    assert by_id["personalausweis"] in engine.lookup("personalausweiss").services  # one typo
    assert by_id["sperrmuell"] in engine.lookup("sperrm").services  # prefix
    assert engine.lookup("xqzvwpl").count == 0
    assert engine.lookup("knöllchen").count == 0  # colloquial, no synonym configured
    assert by_id["personalausweis"] in engine.lookup("perso").services  # prefix of a word
    assert engine.lookup("wie beantrage ich").count == 0  # only stop words
    # Umlauts written out are two edits away: this site search does not fold them.
    assert engine.lookup("fuehrerschein").count == 0
    assert engine.lookup("führerschein").count > 0


def engine_services(engine: SiteSearch):
    city = build_city(SimConfig().start, 30, "www.musterstadt.de", random.Random(1))
    return city.services
