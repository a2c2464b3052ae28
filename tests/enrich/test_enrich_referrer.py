"""Referrer classification, campaigns and referrer spam."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amtspuls.enrich.referrer import (
    REF_CLASSES,
    RefInfo,
    campaign_name,
    classify_referrers,
    is_spam_referrer,
    load_sources,
    normalize_host,
    parse_referrer,
)

SITE = "musterstadt.de"
HOME = "https://www.musterstadt.de/"

# (referrer, expected class, expected host, expected path, expected name) — by hand.
CASES = [
    ("", "direct", "", "", ""),
    ("-", "direct", "", "", ""),
    ("about:blank", "direct", "", "", ""),
    ("file:///C:/Users/x/Desktop/link.html", "direct", "", "", ""),
    ("not a url at all", "direct", "", "", ""),
    (
        "https://www.musterstadt.de/buergerservice/personalausweis?id=42#termin",
        "internal", "www.musterstadt.de", "/buergerservice/personalausweis", "",
    ),
    ("http://MUSTERSTADT.de:8080", "internal", "musterstadt.de", "/", ""),
    ("https://www.google.de/search?q=sperrm%C3%BCll", "search", "www.google.de", "", "Google"),
    ("https://www.google.com/", "search", "www.google.com", "", "Google"),
    ("https://www.google.co.uk/url?sa=t", "search", "www.google.co.uk", "", "Google"),
    ("https://google.com.tr/", "search", "google.com.tr", "", "Google"),
    ("https://www.bing.com/search?q=wohngeld", "search", "www.bing.com", "", "Bing"),
    ("https://duckduckgo.com/", "search", "duckduckgo.com", "", "DuckDuckGo"),
    ("https://www.ecosia.org/search?q=kita", "search", "www.ecosia.org", "", "Ecosia"),
    ("https://www.qwant.com/?q=x", "search", "www.qwant.com", "", "Qwant"),
    ("https://www.startpage.com/do/search", "search", "www.startpage.com", "", "Startpage"),
    ("https://suche.web.de/web?q=x", "search", "suche.web.de", "", "WEB.DE Suche"),
    ("https://suche.t-online.de/?q=x", "search", "suche.t-online.de", "", "t-online Suche"),
    ("https://suche.gmx.net/web?q=x", "search", "suche.gmx.net", "", "GMX Suche"),
    ("https://de.search.yahoo.com/search?p=x", "search", "de.search.yahoo.com", "", "Yahoo"),
    ("https://yandex.ru/search/?text=x", "search", "yandex.ru", "", "Yandex"),
    ("https://www.baidu.com/link?url=x", "search", "www.baidu.com", "", "Baidu"),
    ("https://search.brave.com/search?q=x", "search", "search.brave.com", "", "Brave Search"),
    ("android-app://com.google.android.googlequicksearchbox/", "search",
     "com.google.android.googlequicksearchbox", "", "Google"),
    ("https://m.facebook.com/", "social", "m.facebook.com", "", "Facebook"),
    ("https://l.facebook.com/l.php?u=x", "social", "l.facebook.com", "", "Facebook"),
    ("https://l.instagram.com/?u=x", "social", "l.instagram.com", "", "Instagram"),
    ("https://t.co/AbC123", "social", "t.co", "", "X (Twitter)"),
    ("https://x.com/stadt", "social", "x.com", "", "X (Twitter)"),
    ("https://www.linkedin.com/feed/", "social", "www.linkedin.com", "", "LinkedIn"),
    ("https://www.xing.com/news", "social", "www.xing.com", "", "XING"),
    ("https://www.youtube.com/watch?v=x", "social", "www.youtube.com", "", "YouTube"),
    ("https://old.reddit.com/r/de/", "social", "old.reddit.com", "", "Reddit"),
    ("https://web.whatsapp.com/", "social", "web.whatsapp.com", "", "WhatsApp"),
    ("https://t.me/stadtkanal", "social", "t.me", "", "Telegram"),
    ("https://www.pinterest.de/pin/1", "social", "www.pinterest.de", "", "Pinterest"),
    ("https://www.tiktok.com/@stadt", "social", "www.tiktok.com", "", "TikTok"),
    ("https://social.bund.de/@stadt", "social", "social.bund.de", "", "Mastodon"),
    ("https://nebenan.de/feed", "social", "nebenan.de", "", "nebenan.de"),
    ("https://mail.google.com/mail/u/0/", "website", "mail.google.com", "", "Gmail"),
    ("https://www.t-online.de/region/", "website", "www.t-online.de", "", ""),
    ("https://google.example.com/", "website", "google.example.com", "", ""),
    ("https://www.landkreis-muster.de/links?x=1", "website", "www.landkreis-muster.de", "", ""),
    ("https://user:secret@Example.ORG.:443/a?b#c", "website", "example.org", "", ""),
    ("www.bing.com/search?q=1", "search", "www.bing.com", "", "Bing"),
]  # fmt: skip


@pytest.mark.parametrize(("referrer", "ref_class", "host", "path", "name"), CASES)
def test_hand_written_expectations(referrer, ref_class, host, path, name):
    assert classify_referrers([referrer], SITE, [HOME]) == [RefInfo(ref_class, host, path, name)]


def test_positional_shape():
    info = classify_referrers(["https://www.bing.com/"], SITE)[0]
    ref_class, host, path, *_ = (info.ref_class, info.host, info.path, info.name)
    assert (ref_class, host, path) == ("search", "www.bing.com", "")
    assert RefInfo("direct", "", "").name == ""


def test_site_host_forms_and_aliases():
    refs = [
        "https://musterstadt.de/a",
        "https://www.musterstadt.de/b",
        "https://service.musterstadt.de/c",
        "https://buergerportal.example.net/d",
        "https://other.de/e",
    ]
    plain = classify_referrers(refs, "www.musterstadt.de")
    assert [r.ref_class for r in plain] == ["internal", "internal", "website", "website", "website"]
    with_aliases = classify_referrers(
        refs, "https://musterstadt.de/", aliases=["*.musterstadt.de", "buergerportal.example.net"]
    )
    assert [r.ref_class for r in with_aliases] == [
        "internal",
        "internal",
        "internal",
        "internal",
        "website",
    ]
    assert [r.path for r in with_aliases] == ["/a", "/b", "/c", "/d", ""]


def test_campaigns():
    refs = ["", "https://www.google.de/", "https://www.musterstadt.de/x", "https://t.co/x"]
    landings = [
        "https://www.musterstadt.de/?utm_source=newsletter&utm_medium=email&utm_campaign=Herbst",
        "https://www.musterstadt.de/wohngeld?mtm_campaign=anzeige",
        "https://www.musterstadt.de/?utm_campaign=intern",  # internal click: not a new entry
        "https://www.musterstadt.de/#pk_campaign=social-post",
    ]
    got = classify_referrers(refs, SITE, landings)
    assert [r.ref_class for r in got] == ["campaign", "campaign", "internal", "campaign"]
    assert got[0].host == "" and got[1].host == "www.google.de" and got[1].path == ""


@pytest.mark.parametrize(
    ("landing", "name"),
    [
        ("https://x.de/?utm_campaign=Sperrm%C3%BCll%20%202024&utm_source=nl", "sperrmüll 2024"),
        ("https://x.de/?mtm_campaign=Wahl&utm_campaign=other", "wahl"),
        ("https://x.de/?pk_campaign=Plakat", "plakat"),
        ("https://x.de/page#pk_campaign=Flyer", "flyer"),
        ("https://x.de/?utm_source=Newsletter&utm_medium=email", "newsletter"),
        ("https://x.de/?utm_medium=email", "(not set)"),
        ("https://x.de/?UTM_CAMPAIGN=Laut", "laut"),
        ("https://x.de/?q=utm_campaign", None),
        ("https://x.de/?page=2", None),
        ("https://x.de/", None),
        ("", None),
        ("%%%?=&&==", None),
    ],
)
def test_campaign_name(landing, name):
    assert campaign_name(landing) == name


def test_none_values():
    got = classify_referrers([None, "https://t.co/x"], SITE, [None, None])
    assert [r.ref_class for r in got] == ["direct", "social"]
    assert is_spam_referrer([None, "0-0.fr"]) == [False, True]


def test_landing_urls_must_be_parallel():
    with pytest.raises(ValueError):
        classify_referrers(["a", "b"], SITE, ["c"])


def test_sources_table_is_valid():
    sources = load_sources()
    assert len(sources) > 60
    assert {s.ref_class for s in sources} <= {"search", "social", "website"}
    with pytest.raises(ValueError, match="unknown class"):
        load_sources("host_pattern,class,name\nexample.org,shop,Example\n")
    with pytest.raises(ValueError, match="invalid host pattern"):
        load_sources("host_pattern,class,name\nexa mple.org,search,Example\n")


@pytest.mark.parametrize(
    ("host", "spam"),
    [
        ("0-0.fr", True),  # listed
        ("sub.0-0.fr", True),  # subdomain of a listed host
        ("a.b.0-0.fr", True),
        ("WWW.0-0.FR", True),  # case-insensitive
        ("0-0.fr:8080", True),  # port ignored
        ("http://www.0-0.fr/page?x=1", True),  # a URL is accepted too
        ("qiwi.xyz", True),  # listed as "QIWI.xyz"
        ("x0-0.fr", False),  # only whole labels match
        ("0-0.fr.example.org", False),
        ("fr", False),  # never a bare top-level domain
        ("www.google.de", False),
        ("musterstadt.de", False),
        ("", False),
        ("-", False),
    ],
)
def test_referrer_spam(host, spam):
    assert is_spam_referrer([host]) == [spam]


def test_spam_parallel_output():
    assert is_spam_referrer(["0-0.fr", "example.org", "sub.0-0.fr"]) == [True, False, True]


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("Example.ORG", "example.org"),
        ("example.org:443", "example.org"),
        ("user@example.org", "example.org"),
        ("example.org.", "example.org"),
        ("[2001:DB8::1]:8080", "[2001:db8::1]"),
        ("example.org/some/path?q=1", "example.org"),
        ("https://Example.org:8443/x", "example.org"),
        ("exa mple.org", ""),
        ("<script>", ""),
        ("", ""),
    ],
)
def test_normalize_host(value, host):
    assert normalize_host(value) == host


URLISH = st.builds(
    lambda scheme, host, port, path, query: f"{scheme}{host}{port}{path}{query}",
    st.sampled_from(["http://", "https://", "//", "android-app://", "HTTPS://", "", "ftp://"]),
    st.text(min_size=0, max_size=30),
    st.sampled_from(["", ":80", ":8080", ":", ":abc"]),
    st.text(max_size=30),
    st.sampled_from(["", "?", "?q=1", "?a=b#c", "#frag?x", "?utm_campaign=x"]),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=80), URLISH))
def test_referrer_parsing_properties(url):
    parsed = parse_referrer(url)
    if parsed is not None:
        host, path = parsed
        assert host and host == host.lower()
        assert "?" not in path and "#" not in path
        assert path.startswith("/")
        if not host.startswith("["):
            assert ":" not in host
        assert "@" not in host and "/" not in host
    (info,) = classify_referrers([url], SITE, [url])
    assert info.ref_class in REF_CLASSES
    assert info.host == info.host.lower()
    assert "?" not in info.path and "#" not in info.path
    if not info.host.startswith("["):
        assert ":" not in info.host
    if info.ref_class != "internal":
        assert info.path == ""
    if info.ref_class == "direct":
        assert info.host == ""
    assert isinstance(is_spam_referrer([url])[0], bool)
    name = campaign_name(url)
    assert name is None or isinstance(name, str)


@settings(max_examples=200, deadline=None)
@given(
    host=st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){1,2}", fullmatch=True),
    port=st.integers(min_value=1, max_value=65535),
    path=st.from_regex(r"(/[A-Za-z0-9._~-]{0,8}){0,4}", fullmatch=True),
    query=st.text(max_size=20),
)
def test_well_formed_urls_round_trip(host, port, path, query):
    url = f"https://{host.upper()}:{port}{path}?{query}"
    assert parse_referrer(url) == (host, path or "/")
