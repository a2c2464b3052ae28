"""Bot detection: rule tables, compiled-regex equivalence, recall and false-positive rate."""

from __future__ import annotations

import json
import random
import re
import time
from importlib.resources import files

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amtspuls.enrich import bots
from amtspuls.enrich.bots import compile_patterns, extra_patterns, is_bot

CRAWLERS = json.loads(
    (files("amtspuls.data") / "enrich" / "crawler-user-agents.json").read_text(encoding="utf-8")
)
INSTANCES = [instance for entry in CRAWLERS for instance in entry.get("instances", [])]

# ua-parser browser families that are browsers (or in-app browsers) used by people,
# chosen by hand; their user agents in the uap-core corpus must not be flagged.
REAL_BROWSERS = frozenset(
    {
        "Chrome", "Chrome Mobile", "Chrome Mobile iOS", "Chrome Mobile WebView", "Chromium",
        "Firefox", "Firefox Mobile", "Firefox iOS", "Firefox Beta", "Firefox Focus",
        "Safari", "Mobile Safari", "Mobile Safari UI/WKWebView",
        "Edge", "Edge Mobile", "IE", "IE Mobile",
        "Opera", "Opera Mini", "Opera Mobile", "Opera GX", "Opera Touch", "Opera Tablet",
        "Samsung Internet", "UC Browser", "Yandex Browser", "Vivaldi", "Brave", "Whale",
        "Maxthon", "Puffin", "Amazon Silk", "Android", "Dolphin", "QQ Browser",
        "QQ Browser Mobile", "Baidu Browser", "Pale Moon", "Coc Coc", "DuckDuckGo Mobile",
        "Avast Secure Browser", "Aloha Browser", "Konqueror", "Iron", "Sleipnir", "Midori",
        "Sailfish Browser", "Seznam prohlížeč", "Honor Browser", "HeyTap Browser",
        "VivoBrowser", "Huawei Browser", "MiuiBrowser", "Mint Browser", "WeChat Browser",
        "Facebook", "Instagram", "Pinterest",
    }
)  # fmt: skip


def test_every_published_pattern_compiles_on_its_own():
    patterns = bots.crawler_patterns()
    assert len(patterns) == len(CRAWLERS) == 1498
    for pattern in patterns:
        re.compile(pattern)


def test_rules_compile_into_two_regexes():
    rules = bots._rules()
    assert rules.pattern_count == len(CRAWLERS) + len(extra_patterns())
    assert rules.regex_count == 2  # one case-sensitive, one for the (?i:...) lines


def test_compiled_rules_equal_the_individual_patterns(uap_all_user_agents):
    """The trie/merging compiler must not change what matches."""
    patterns = [re.compile(p) for p in bots.crawler_patterns() + extra_patterns()]
    sample = INSTANCES + random.Random(7).sample(uap_all_user_agents, 800)
    for ua in sample:
        expected = any(pattern.search(ua) for pattern in patterns)
        assert bots.matches_bot_patterns(ua) == expected, ua


SYNTHETIC = [
    "Googlebot\\/",
    "^curl",
    "[wW]get",
    "S[eE][mM]rushBot",
    "Ahrefs(Bot|SiteAudit)",
    "(^| )sentry\\/",
    "SSL Labs$",
    "Spider[\\s\\S]*spider\\.com",
    "(?i:uptimerobot|^java/)",
    "bot\\b(?<![Cc]ubot)",
    "a(b|)c",
]


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("abcdegilnoprstuwABGJSUW /()^$.\\-_Lx")),
        max_size=40,
    )
    | st.sampled_from(
        [
            "Googlebot/2.1",
            "curl/8",
            "xcurl",
            "Wget/1",
            "SemrushBot",
            "SEMRUSHBOT",
            "AhrefsSiteAudit",
            "Ahrefs",
            "x sentry/1",
            "sentry/1",
            "SSL Labs",
            "SSL Labs x",
            "Spider x spider.com",
            "UptimeRobot/2.0",
            "JAVA/1.8",
            "myjava/1",
            "Cubot",
            "robot",
            "ac",
            "abc",
        ]
    )
)
def test_compiler_is_equivalent_on_synthetic_patterns(text):
    rules = compile_patterns(SYNTHETIC)
    expected = any(re.search(pattern, text) for pattern in SYNTHETIC)
    assert rules.search(text) == expected


def test_extra_pattern_file_is_validated():
    assert extra_patterns("# comment\n\nfoo\n(?i:bar)\n") == ["foo", "(?i:bar)"]
    with pytest.raises(ValueError, match="global flags"):
        extra_patterns("(?i)foo\n")
    with pytest.raises(ValueError, match="invalid pattern"):
        extra_patterns("foo(\n")
    with pytest.raises(ValueError, match="invalid bot pattern"):
        compile_patterns(["ok", "[unclosed"])


def test_crawler_instances_are_detected():
    flags = is_bot(INSTANCES)
    recall = sum(flags) / len(flags)
    missed = [ua for ua, flag in zip(INSTANCES, flags, strict=True) if not flag]
    print(f"\ncrawler-user-agents instances: recall {recall:.4f} ({len(INSTANCES)} UAs)")
    assert recall >= 0.99, missed[:10]


def test_real_browsers_are_not_flagged(uap_ua_cases, uap_device_cases, uap_os_cases):
    from amtspuls.enrich.useragent import classify_user_agents

    browsers: dict[str, None] = {}
    for case in [*uap_ua_cases, *uap_os_cases, *uap_device_cases]:
        ua = case["user_agent_string"] or ""
        browsers.setdefault(ua, None)
    uas = list(browsers)
    infos = classify_user_agents(uas)
    real = [ua for ua, info in zip(uas, infos, strict=True) if info.browser in REAL_BROWSERS]
    flagged = [ua for ua, flag in zip(real, is_bot(real), strict=True) if flag]
    rate = len(flagged) / len(real)
    print(
        f"\nuap-core real-browser UAs: {len(real)}, flagged as bot {len(flagged)} "
        f"(false-positive rate {rate:.4f})"
    )
    assert len(real) > 10_000
    assert rate < 0.01, flagged[:10]


TOOLS = [
    "curl/7.88.1",
    "Wget/1.21.3",
    "python-requests/2.31.0",
    "Python-urllib/3.11",
    "python-httpx/0.25.0",
    "aiohttp/3.9.1",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "Java/17.0.2",
    "Apache-HttpClient/4.5.14 (Java/17.0.2)",
    "libwww-perl/6.72",
    "okhttp/4.12.0",
    "axios/1.6.2",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "GuzzleHttp/7",
    "PostmanRuntime/7.36.0",
    "Mozilla/5.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/119.0.6045.105 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
    "PhantomJS/2.1.1 Safari/538.1",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Uptime-Kuma/1.23.11",
    "Mozilla/5.0 (compatible; StatusCake)",
    "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
    "Site24x7",
    "check_http/v2.3.3 (monitoring-plugins 2.3.3)",
    "Zabbix",
    "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; "
    "+https://openai.com/gptbot)",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "aws-sdk-java/1.12.261 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.4",
    "SomeNewCrawler/0.1 (+https://example.org/crawler)",
    "newsfetch/1.0 (contact: ops@example.org)",
    "",
    "-",
]


@pytest.mark.parametrize("ua", TOOLS)
def test_tools_scripts_and_monitors_are_bots(ua):
    assert is_bot([ua]) == [True]


HUMANS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 12; CUBOT KINGKONG 7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; Cubot Note 30) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 309.0.0.28.113 (iPhone14,5; iOS 16_6; de_DE; "
    "de; scale=3.00; 1170x2532; 537288532)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
]


@pytest.mark.parametrize("ua", HUMANS)
def test_browsers_are_not_bots(ua):
    assert is_bot([ua]) == [False]


def test_none_means_no_user_agent_field():
    assert is_bot([None, "", "curl/8.0", HUMANS[0]]) == [False, True, True, False]


def test_is_bot_agrees_with_classify_user_agents(uap_all_user_agents):
    from amtspuls.enrich.useragent import classify_user_agents

    sample = uap_all_user_agents + INSTANCES + TOOLS + HUMANS
    infos = classify_user_agents(sample)
    assert [info.is_bot for info in infos] == is_bot(sample)
    assert all((info.device == "bot") == info.is_bot for info in infos)


def test_parallel_output_and_cache():
    uas = [HUMANS[0], TOOLS[0], HUMANS[0], "", TOOLS[0]]
    assert is_bot(uas) == [False, True, False, True, True]
    hits = bots._is_bot_one.cache_info().hits
    is_bot(uas)
    assert bots._is_bot_one.cache_info().hits >= hits + len(uas)


def test_huge_user_agent_is_bounded():
    start = time.perf_counter()
    assert is_bot(["Mozilla/5.0 " + "a" * 2_000_000]) == [False]
    assert time.perf_counter() - start < 5


def test_throughput_report(uap_all_user_agents):
    """Not a timed assertion: prints distinct user agents per second for is_bot."""
    bots._rules()
    bots.ua_resolver()
    bots._is_bot_one.cache_clear()
    start = time.perf_counter()
    is_bot(uap_all_user_agents)
    cold = len(uap_all_user_agents) / (time.perf_counter() - start)
    start = time.perf_counter()
    is_bot(uap_all_user_agents)
    warm = len(uap_all_user_agents) / (time.perf_counter() - start)
    print(f"\nis_bot: cold {cold:,.0f}/s, cached {warm:,.0f}/s")
