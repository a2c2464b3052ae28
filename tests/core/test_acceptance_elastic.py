"""Acceptance: the 10,000-line real Apache log (elastic/examples, Apache-2.0) imported
through the CLI, its counts compared with an independent implementation of the
documented pageview rule (`core_helpers.is_pageview`: Python `re` per line,
`ua_parser.parse` for "Spider", the crawler patterns, the spam list)."""

from __future__ import annotations

import pytest
from core_helpers import (
    cli,
    extension,
    import_inproc,
    is_bot_ua,
    is_pageview,
    is_spam_ref,
    one_json,
    parse_combined,
    request_rules,
    split_url,
)

SITE = "semicomplete.com"


def independent_counts(lines: list[str]) -> dict[str, int]:
    rules = request_rules()
    counts = {"lines": len(lines), "malformed": 0, "pageviews": 0, "bots": 0, "static": 0}
    for line in lines:
        hit = parse_combined(line)
        if hit is None:
            counts["malformed"] += 1
            continue
        bot = is_bot_ua(hit.user_agent)
        counts["bots"] += bot
        spam = not bot and is_spam_ref(hit.referrer)
        if not bot and not spam and extension(split_url(hit.url)[0]) in rules["static_extensions"]:
            counts["static"] += 1
        counts["pageviews"] += is_pageview(hit)
    return counts


def read_lines(path) -> list[str]:
    lines = path.read_bytes().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


@pytest.fixture(scope="module")
def full_import(elastic_log, tmp_path_factory):
    data = tmp_path_factory.mktemp("elastic") / "data"
    run = cli(data, "import-logs", str(elastic_log), "--site", SITE, "--json")
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    return one_json(run.out), read_lines(elastic_log)


@pytest.fixture(scope="module")
def without_dash_ua_import(elastic_log, tmp_path_factory):
    """The same log without the 190 lines whose user agent is "-", so that the rest of
    the rule is also checked on its own, on ~9,800 real lines."""
    lines = [ln for ln in read_lines(elastic_log) if not ln.endswith('"-"')]
    folder = tmp_path_factory.mktemp("elastic_nodash")
    path = folder / "apache_logs_no_dash_ua.log"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return import_inproc(folder / "data", SITE, path), lines


def test_every_line_accounted_for(full_import):
    out, lines = full_import
    assert len(lines) == 10_000
    assert out["lines"] == 10_000
    assert out["imported"] + out["malformed"] == out["lines"]
    assert out["malformed"] == independent_counts(lines)["malformed"] == 0
    assert out["malformed_lines"] == []
    assert list(out["formats"].values()) == ["combined"]


def test_pageviews_bots_static_follow_the_rule(without_dash_ua_import):
    out, lines = without_dash_ua_import
    expected = independent_counts(lines)
    assert expected["lines"] == 9_810  # 10,000 minus the 190 "-" user agents
    assert {k: out[k] for k in expected} == expected
    # The sample is a mix (not all one kind), so the counts above are informative.
    assert 1_000 < expected["pageviews"] < expected["bots"] < expected["static"]


def test_pageviews_and_bots_on_the_whole_log(full_import):
    out, lines = full_import
    expected = independent_counts(lines)
    assert (out["pageviews"], out["bots"], out["static"]) == (
        expected["pageviews"], expected["bots"], expected["static"])
