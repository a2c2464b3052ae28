"""Open311 service requests: fields, volume, German texts with noise and personal
data, duplicates close in place and time, near misses."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import datetime

from amtspuls.catalog import load_catalog

from .conftest import Run

KEYS = {"service_request_id", "service_code", "description", "lat", "long", "address_string",
        "requested_datetime", "media_url"}  # fmt: skip
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}")
PHONE = re.compile(r"(\+49|0)[\d /()-]{6,}\d")


def _dist(a: dict, b: dict) -> float:
    dy = (a["lat"] - b["lat"]) * 111_320
    dx = (a["long"] - b["long"]) * 111_320 * math.cos(math.radians(a["lat"]))
    return math.hypot(dx, dy)


def test_fields_and_volume(run: Run):
    ids = {s.id for s in load_catalog()}
    per_day = Counter()
    no_code = 0
    for r in run.requests:
        assert set(r) <= KEYS
        assert KEYS - {"service_code", "media_url"} <= set(r)
        t = datetime.fromisoformat(r["requested_datetime"])
        assert t.utcoffset() is not None
        per_day[t.date()] += 1
        if "service_code" in r:
            assert r["service_code"] in ids
        else:
            no_code += 1
        assert 51.1 < r["lat"] < 51.4 and 7.5 < r["long"] < 8.0
        assert r["address_string"].endswith("Musterstadt")
    assert len(per_day) == run.config.days
    assert all(20 <= n <= 60 for n in per_day.values()), per_day
    assert 0.05 <= no_code / len(run.requests) <= 0.16
    assert any("media_url" in r for r in run.requests)
    ids_seen = [r["service_request_id"] for r in run.requests]
    assert len(set(ids_seen)) == len(ids_seen)


def test_reportable_categories(run: Run):
    cats = Counter(t["category"] for t in run.truth["requests"])
    for sid in ("strassenschaden", "strassenbeleuchtung", "baum_gefahr",
                "illegale_muellablagerung", "laermbelaestigung", "falschparker", "spielplatz",
                "muelltonne", "hochwasser"):  # fmt: skip
        assert cats[sid] > 0, sid
    assert {t["priority"] for t in run.truth["requests"]} == {1, 2, 3, 4}


def test_texts_vary_and_are_noisy(run: Run):
    texts = [r["description"] for r in run.requests]
    lengths = sorted(len(t) for t in texts)
    assert lengths[0] < 60 and lengths[-1] > 250
    assert len(set(texts)) > 0.97 * len(texts)
    joined = "\n".join(texts)
    assert re.search(r"\b(Strasse|strasse|ueber|fuer|Gruesse|gefaehrlich|Muell)", joined)
    assert any(t == t.lower() for t in texts)
    assert any("!!!" in t for t in texts)


def test_personal_data_marked_in_truth(run: Run):
    truth = {t["service_request_id"]: t for t in run.truth["requests"]}
    with_pii = 0
    for r in run.requests:
        pii = truth[r["service_request_id"]]["pii"]
        with_pii += bool(pii)
        if "email" in pii:
            assert EMAIL.search(r["description"]), r["description"]
        else:
            assert not EMAIL.search(r["description"]), r["description"]
        if "phone" in pii:
            assert PHONE.search(r["description"]), r["description"]
    assert 0.1 <= with_pii / len(run.requests) <= 0.35


def test_duplicates_close_in_place_and_time(run: Run):
    by_id = {r["service_request_id"]: r for r in run.requests}
    truth = {t["service_request_id"]: t for t in run.truth["requests"]}
    dups = [t for t in truth.values() if t["duplicate_of"]]
    share = len(dups) / len(truth)
    assert abs(share - run.config.requests.duplicate_share) < 0.05, share
    for t in dups:
        a, b = by_id[t["service_request_id"]], by_id[t["duplicate_of"]]
        assert _dist(a, b) < 150, (a, b)
        dt = datetime.fromisoformat(a["requested_datetime"]) - datetime.fromisoformat(
            b["requested_datetime"]
        )
        assert 0 < dt.total_seconds() <= 3 * 86400
        assert truth[t["duplicate_of"]]["category"] == t["category"]
        assert t["duplicate_group"] == truth[t["duplicate_of"]]["duplicate_group"]
        assert a["description"] != b["description"]
    groups = Counter(t["duplicate_group"] for t in truth.values())
    assert max(groups.values()) >= 3


def test_near_misses_are_different_problems(run: Run):
    by_id = {r["service_request_id"]: r for r in run.requests}
    truth = {t["service_request_id"]: t for t in run.truth["requests"]}
    near = [t for t in truth.values() if t["near_miss_of"]]
    assert near
    for t in near:
        other = truth[t["near_miss_of"]]
        assert t["duplicate_group"] != other["duplicate_group"]
        d = _dist(by_id[t["service_request_id"]], by_id[t["near_miss_of"]])
        same_street = (by_id[t["service_request_id"]]["address_string"].split(" ")[0]
                       == by_id[t["near_miss_of"]]["address_string"].split(" ")[0])  # fmt: skip
        assert (t["category"] != other["category"] and same_street) or d > 600, (t, d)
