"""Resumable imports: the same file twice counts once, a grown file is continued, and a
compressed copy of the same content is the same file."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta

import pytest
from core_helpers import (
    CHROME_WIN,
    FIREFOX,
    IPHONE,
    cli,
    combined_line,
    one_json,
    report,
    stored,
)

SITE = "www.musterstadt.de"
START = datetime(2026, 1, 20, 9, 0, 0)
VISITORS = [("203.0.113.10", FIREFOX), ("198.51.100.20", IPHONE), ("192.0.2.30", CHROME_WIN)]


def visitor_lines(visitor: int, first: int, count: int) -> list[str]:
    """`count` pageviews of one visitor, one minute apart, from minute `first` on."""
    ip, ua = VISITORS[visitor]
    return [
        combined_line(ip, START + timedelta(minutes=m), f"GET /v{visitor}/seite-{m} HTTP/1.1",
                      200, ua)
        for m in range(first, first + count)
    ]


def first_part() -> list[str]:
    # 3 visitors x 10 pageviews, interleaved by time as a server writes them
    lines = [ln for v in range(3) for ln in visitor_lines(v, 0, 10)]
    return sorted(lines, key=lambda ln: ln.split("[", 1)[1])


def grown_part() -> list[str]:
    # visitor 0 carries on 5 minutes after their last page: the same visit
    return visitor_lines(0, 14, 10)


def write(path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", "utf-8")


def import_json(data, *paths) -> dict:
    run = cli(data, "import-logs", *map(str, paths), "--site", SITE, "--json")
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    return one_json(run.out)


def overview(data) -> dict:
    return report(data, "overview", SITE, "2026-01-20", "2026-01-20")


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """Import, import again, grow and import, import the gzip of the grown file."""
    folder = tmp_path_factory.mktemp("resume")
    data = folder / "data"
    log = folder / "access.log"
    write(log, first_part())
    steps = {"first": import_json(data, log)}
    steps["overview_1"] = overview(data)
    steps["again"] = import_json(data, log)
    steps["overview_2"] = overview(data)
    with log.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(grown_part()) + "\n")
    steps["grown"] = import_json(data, log)
    gz = folder / "access.log.1.gz"
    gz.write_bytes(gzip.compress(log.read_bytes()))
    steps["gz_same_content"] = import_json(data, gz)
    steps["overview_3"] = overview(data)
    steps["events"] = stored(data, "SELECT count(*), count(DISTINCT path) FROM events")[0]
    return steps


def test_first_import(story):
    out = story["first"]
    assert (out["lines"], out["imported"], out["malformed"], out["pageviews"]) == (30, 30, 0, 30)
    assert story["overview_1"]["pageviews"] == 30
    assert story["overview_1"]["visits"] == 3
    assert story["overview_1"]["visitors"] == 3


def test_same_file_again_imports_nothing(story):
    out = story["again"]
    assert (out["lines"], out["imported"], out["pageviews"]) == (0, 0, 0)
    assert story["overview_2"] == story["overview_1"]


def test_grown_file_is_continued(story):
    out = story["grown"]
    assert (out["lines"], out["imported"], out["pageviews"], out["malformed"]) == (10, 10, 10, 0)
    ov = story["overview_3"]
    assert ov["pageviews"] == 40
    assert ov["visits"] == 3  # visitor 0's visit continued across the two imports
    # visitor 0: minutes 0..23 -> 23 min; the others 9 min each
    assert ov["avg_visit_seconds"] == pytest.approx((23 * 60 + 9 * 60 + 9 * 60) / 3, abs=0.1)
    assert story["events"] == (40, 40)


def test_gzip_of_the_same_content_counts_nothing_new(story):
    out = story["gz_same_content"]
    assert (out["lines"], out["imported"], out["pageviews"]) == (0, 0, 0)


def test_gzip_and_plain_give_the_same_numbers(tmp_path):
    lines = first_part() + grown_part()
    plain, gz = tmp_path / "plain.log", tmp_path / "packed.log.gz"
    write(plain, lines)
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    a = import_json(tmp_path / "a", plain)
    b = import_json(tmp_path / "b", gz)
    keys = ("lines", "imported", "pageviews", "bots", "static", "malformed", "events")
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    assert a["lines"] == 40 and a["pageviews"] == 40
    assert list(b["formats"].values()) == ["combined"]
