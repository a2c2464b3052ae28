"""Bad input: exit 2 with one line on stderr and nothing written, or (damaged lines)
exit 0 with every line accounted for; never a traceback."""

from __future__ import annotations

import gzip
import json
import shutil
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from core_helpers import (
    CHROME_WIN,
    FIREFOX,
    assert_no_traceback,
    assert_user_error,
    cli,
    combined_line,
    one_json,
    stored,
)

SITE = "www.musterstadt.de"
BASE = datetime(2026, 2, 3, 8, 0, 0)


def valid_lines(n: int, start: datetime = BASE, ip_base: int = 10) -> list[str]:
    uas = [FIREFOX, CHROME_WIN]
    return [
        combined_line(f"198.51.100.{ip_base + i % 7}", start + timedelta(seconds=20 * i),
                      f"GET /seite/{i} HTTP/1.1", 200, uas[i % 2])
        for i in range(n)
    ]


def write(path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return str(path)


def store_state(data) -> tuple:
    """Everything an import writes: events, sessions, counts, import progress."""
    return (
        stored(data, "SELECT count(*), min(ts), max(ts) FROM events")[0],
        stored(data, "SELECT count(*) FROM sessions")[0][0],
        stored(data, "SELECT count(*), coalesce(sum(n), 0) FROM ingest_counts")[0],
        tuple(stored(data, "SELECT path, lines_done FROM imports ORDER BY path")),
        stored(data, "SELECT count(*) FROM daily_site")[0][0],
    )


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A data directory holding one import, and the inputs used below."""
    folder = tmp_path_factory.mktemp("bad_input")
    first = write(folder / "first.log", valid_lines(12))
    data = folder / "data"
    run = cli(data, "import-logs", first, "--site", SITE, "--json")
    assert run.code == 0, run.err
    assert one_json(run.out)["pageviews"] == 12
    files = {"second": write(folder / "second.log",
                             valid_lines(9, BASE + timedelta(days=1), ip_base=40))}
    binary = folder / "binary.log"
    binary.write_bytes(bytes(range(256)) * 40)
    files["binary"] = str(binary)
    (folder / "empty.log").write_bytes(b"")
    files["empty"] = str(folder / "empty.log")
    (folder / "a_directory.log").mkdir()
    files["directory"] = str(folder / "a_directory.log")
    files["missing"] = str(folder / "does-not-exist.log")
    return folder, data, files


# (name, arguments after the data dir; {name} is replaced by the file of that name)
USER_ERRORS = [
    ("binary", ["import-logs", "{second}", "{binary}", "--site", SITE, "--json"]),
    ("empty", ["import-logs", "{second}", "{empty}", "--site", SITE, "--json"]),
    ("missing", ["import-logs", "{second}", "{missing}", "--site", SITE, "--json"]),
    ("directory", ["import-logs", "{second}", "{directory}", "--site", SITE]),
    ("unknown_format", ["import-logs", "{second}", "--site", SITE, "--format", "nginx_xyz"]),
    ("format_not_matching", ["import-logs", "{second}", "--site", SITE, "--format", "w3c"]),
    ("bad_from", ["report", "overview", "--site", SITE, "--from", "2026-02-30", "--json"]),
    ("unknown_report", ["report", "besucherliste", "--site", SITE, "--json"]),
]


def test_user_errors_exit_2_with_one_line_and_write_nothing(prepared, tmp_path):
    folder, data, files = prepared
    before = store_state(data)

    def run_case(case):
        name, args = case
        target = tmp_path / name
        shutil.copytree(data, target)
        return name, target, cli(target, *[a.format(**files) for a in args])

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(run_case, USER_ERRORS))
    for name, target, run in results:
        assert_user_error(run)
        assert run.out == "", (name, run.out)
        assert store_state(target) == before, name
    messages = {name: run.err for name, _, run in results}
    assert "does-not-exist.log" in messages["missing"]
    assert "nginx_xyz" in messages["unknown_format"]
    assert "2026-02-30" in messages["bad_from"]
    assert "besucherliste" in messages["unknown_report"]


def test_truncated_gzip_imports_the_intact_lines(prepared, tmp_path):
    _, data, _ = prepared
    lines = valid_lines(3000, BASE + timedelta(days=2), ip_base=80)
    whole = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    cut = whole[: len(whole) // 2]
    path = tmp_path / "rotated.log.gz"
    path.write_bytes(cut)
    # What an independent decompressor recovers from the cut stream:
    recovered = zlib.decompressobj(wbits=31).decompress(cut)
    complete = recovered.count(b"\n")
    assert 100 < complete < 2900 and not recovered.endswith(b"\n")
    target = tmp_path / "data"
    shutil.copytree(data, target)
    run = cli(target, "import-logs", str(path), "--site", SITE, "--json")
    assert_no_traceback(run)
    assert run.code == 0, run.err
    out = one_json(run.out)
    assert out["lines"] == complete + 1
    assert out["imported"] == complete
    assert out["malformed_lines"] == [complete + 1]
    assert out["pageviews"] == complete
    assert len(run.err.splitlines()) == 1 and "rotated.log.gz" in run.err


def test_huge_line_and_invalid_utf8_are_accounted_for(prepared, tmp_path):
    _, data, _ = prepared
    lines = [ln.encode() for ln in valid_lines(30, BASE + timedelta(days=3), ip_base=120)]
    lines[9] = combined_line("198.51.100.200", BASE + timedelta(days=3, minutes=1),
                             "GET /" + "a" * (1 << 20) + " HTTP/1.1", 200, FIREFOX).encode()
    lines[19] = (b'198.51.100.201 - - [05/Feb/2026:09:00:00 +0000] "GET /stra\xdfe/\xff\xfe/amt'
                 b' HTTP/1.1" 200 10 "-" "' + FIREFOX.encode() + b'"')
    path = tmp_path / "damaged.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    target = tmp_path / "data"
    shutil.copytree(data, target)
    events_before = stored(target, "SELECT count(*) FROM events")[0][0]
    run = cli(target, "import-logs", str(path), "--site", SITE, "--json")
    assert_no_traceback(run)
    assert run.code == 0, run.err
    out = one_json(run.out)
    assert out["lines"] == 30
    assert out["imported"] + out["malformed"] == 30
    assert 10 in out["malformed_lines"]  # the 1 MB line
    # line 20 (invalid UTF-8 in the URL) is either malformed or parsed as a pageview
    utf8_parsed = 20 not in out["malformed_lines"]
    assert out["malformed_lines"] == ([10] if utf8_parsed else [10, 20])
    assert out["pageviews"] == 28 + utf8_parsed
    events_after = stored(target, "SELECT count(*) FROM events")[0][0]
    assert events_after - events_before == 28 + utf8_parsed
    paths = {p for (p,) in stored(target, "SELECT DISTINCT path FROM events")}
    assert not any(len(p) > 2000 for p in paths)
    if utf8_parsed:
        assert any(p.startswith("/stra") and p.endswith("/amt") for p in paths)
    json.dumps(sorted(paths))  # stored text is valid Unicode
