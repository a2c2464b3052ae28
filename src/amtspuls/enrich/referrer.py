"""Referrer enrichment: referrer class, host, internal path, campaign, referrer spam.

Classes (in order of precedence):

``direct``
    no referrer, "-", or one without a usable web host (``about:blank``, ``file:``,
    garbage);
``internal``
    the referrer host is the site's host (a leading ``www.`` ignored on both sides) or one
    of its aliases (``*.example.org`` allows every subdomain);
``campaign``
    the landing URL carries campaign parameters (``utm_*``, ``mtm_*``, ``matomo_*``,
    ``pk_campaign`` and Matomo's other ``pk_``/``piwik_`` campaign names), in its query
    string or fragment. An internal referrer wins over campaign parameters: a click on
    a tagged internal link does not start a new campaign visit;
``search`` / ``social``
    the host matches ``amtspuls/data/enrich/referrers.csv`` (a declared table: the
    search engines and social networks used in Germany, ``google.*`` country domains
    matched by pattern, the most specific pattern wins);
``website``
    any other host.

Privacy: only the lower-cased host is kept, and the referrer *path* only for internal
referrers (where it names one of the site's own pages); query strings and fragments are
never kept, because they can carry search terms, e-mail addresses or session tokens.

Referrer spam uses Matomo's community list (``referrer-spammers.txt``, public domain): a
host is spam when it, or any parent domain, is listed.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from urllib.parse import parse_qsl

__all__ = [
    "REF_CLASSES",
    "RefInfo",
    "RefSource",
    "campaign_name",
    "classify_referrers",
    "has_campaign",
    "is_spam_referrer",
    "load_sources",
    "lookup_source",
    "normalize_host",
    "parse_referrer",
]

REF_CLASSES = ("direct", "internal", "search", "social", "campaign", "website")

SOURCES_FILE = "referrers.csv"
SPAM_FILE = "referrer-spammers.txt"

#: Longest referrer path kept (internal referrers only).
MAX_PATH_CHARS = 1_024
#: Longest campaign name kept.
MAX_CAMPAIGN_CHARS = 200
#: Distinct hosts remembered between calls.
CACHE_SIZE = 65_536

_SOURCE_CLASSES = frozenset({"search", "social", "website"})

# scheme://authority/path — the authority ends at the first "/", "?", "#" or "\".
_WITH_AUTHORITY = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//([^/?#\\]*)([^?#]*)")
# A scheme-less "www.example.org/…" (some log writers drop the scheme).
_SCHEMELESS_WWW = re.compile(r"^(www\.[^/?#\\\s]*)([^?#]*)", re.IGNORECASE)
_PORT = re.compile(r":\d*$")
_HOST_CHARS = re.compile(r"^[\w\-]+(?:\.[\w\-]+)*$")
_IPV6 = re.compile(r"^\[[0-9a-f:.]+\]$")
_UNSAFE_PATH_CHARS = re.compile(r"[\x00-\x1f\x7f\s]")

# Campaign parameters (lower-cased), Matomo and Google Analytics conventions.
_CAMPAIGN_PREFIXES = ("utm_", "mtm_", "matomo_")
_CAMPAIGN_PARAMS = frozenset(
    {
        "pk_campaign",
        "pk_cpn",
        "pk_kwd",
        "pk_keyword",
        "pk_source",
        "pk_medium",
        "pk_content",
        "pk_cid",
        "pk_group",
        "pk_placement",
        "piwik_campaign",
        "piwik_kwd",
    }
)
# Where a campaign's name is taken from, in order; the source is a fallback.
_CAMPAIGN_NAME_PARAMS = (
    "mtm_campaign",
    "matomo_campaign",
    "pk_campaign",
    "pk_cpn",
    "piwik_campaign",
    "utm_campaign",
    "mtm_source",
    "matomo_source",
    "pk_source",
    "utm_source",
)
NOT_SET = "(not set)"

# Second-level labels under which country domains are registered (google.co.uk).
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "ac", "edu", "gob", "or", "ne", "go"})


@dataclass(frozen=True, slots=True)
class RefInfo:
    """What amtspuls keeps of a referrer."""

    ref_class: str  # one of REF_CLASSES
    host: str  # lower-cased, without port (a leading "www." is kept); "" if none
    path: str  # internal referrers only, never a query string; else ""
    name: str = ""  # source name for search/social ("Google", "Facebook"), else ""


@dataclass(frozen=True, slots=True)
class RefSource:
    """One row of referrers.csv."""

    host_pattern: str
    ref_class: str
    name: str


DIRECT = RefInfo("direct", "", "")


# --- hosts -------------------------------------------------------------------------


def normalize_host(value: str) -> str:
    """Lower-cased host without userinfo, port and trailing dot; "" if not a valid host.

    Accepts a bare host ("WWW.Example.org:8080") or a URL (the host is extracted).
    """
    value = value.strip()
    if "//" in value:
        parsed = parse_referrer(value)
        return parsed[0] if parsed else ""
    return _clean_authority(re.split(r"[/?#\\]", value, maxsplit=1)[0])


def _clean_authority(authority: str) -> str:
    host = authority.rpartition("@")[2].strip().lower()
    if host.startswith("["):
        end = host.find("]")
        host = host[: end + 1] if end >= 0 else ""
        return host if _IPV6.match(host) else ""
    host = _PORT.sub("", host).rstrip(".")
    if not host or len(host) > 253 or not _HOST_CHARS.match(host):
        return ""
    return host


def _strip_www(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def parse_referrer(url: str) -> tuple[str, str] | None:
    """``(host, path)`` of a referrer URL, or None without a usable host.

    The host is lower-cased without userinfo and port; the path excludes the query
    string and fragment, and starts with "/" ("/" if empty). Never raises.
    """
    text = url.strip()
    match = _WITH_AUTHORITY.match(text) or _SCHEMELESS_WWW.match(text)
    if match is None:
        return None
    host = _clean_authority(match.group(1))
    if not host:
        return None
    # browsers read "\\" as "/" in web URLs; control characters and spaces are dropped
    path = _UNSAFE_PATH_CHARS.sub("", match.group(2).replace("\\", "/"))
    path = path[:MAX_PATH_CHARS] or "/"
    return host, path


# --- sources table ---------------------------------------------------------------------


def load_sources(text: str | None = None) -> list[RefSource]:
    """Rows of referrers.csv (or of ``text`` in the same format); validates them."""
    if text is None:
        text = (files("amtspuls.data") / "enrich" / SOURCES_FILE).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    rows: list[RefSource] = []
    for row in csv.DictReader(lines):
        pattern = (row.get("host_pattern") or "").strip().lower()
        ref_class = (row.get("class") or "").strip()
        name = (row.get("name") or "").strip()
        if ref_class not in _SOURCE_CLASSES:
            raise ValueError(f"{SOURCES_FILE}: unknown class {ref_class!r} for {pattern!r}")
        if not pattern or not name:
            raise ValueError(f"{SOURCES_FILE}: incomplete row {row!r}")
        base = pattern[:-2] if pattern.endswith(".*") else pattern
        if not _HOST_CHARS.match(base):
            raise ValueError(f"{SOURCES_FILE}: invalid host pattern {pattern!r}")
        rows.append(RefSource(pattern, ref_class, name))
    return rows


@lru_cache(maxsize=1)
def _source_index() -> tuple[dict[str, RefSource], dict[str, RefSource]]:
    exact: dict[str, RefSource] = {}
    any_tld: dict[str, RefSource] = {}
    for source in load_sources():
        if source.host_pattern.endswith(".*"):
            any_tld[source.host_pattern[:-2]] = source
        else:
            exact[source.host_pattern] = source
    return exact, any_tld


def _is_country_suffix(labels: list[str]) -> bool:
    if len(labels) == 1:
        tld = labels[0]
        return (tld.isalpha() and 2 <= len(tld) <= 6) or tld.startswith("xn--")
    second, tld = labels
    return second in _SECOND_LEVEL and tld.isalpha() and len(tld) == 2


@lru_cache(maxsize=CACHE_SIZE)
def lookup_source(host: str) -> RefSource | None:
    """The most specific referrers.csv row matching a normalised host, if any."""
    exact, any_tld = _source_index()
    labels = host.split(".")
    for start in range(len(labels)):
        rest = labels[start:]
        source = exact.get(".".join(rest))
        if source is not None:
            return source
        for suffix_len in (1, 2):
            if len(rest) > suffix_len and _is_country_suffix(rest[-suffix_len:]):
                source = any_tld.get(".".join(rest[:-suffix_len]))
                if source is not None:
                    return source
    return None


# --- campaigns ---------------------------------------------------------------------------


def _url_params(url: str) -> list[tuple[str, str]]:
    """Parameters of a URL's query string and fragment (names lower-cased)."""
    query, _, fragment = url.partition("#")
    query = query.partition("?")[2]
    params: list[tuple[str, str]] = []
    for part in (query, fragment):
        if "=" not in part:
            continue
        try:
            pairs = parse_qsl(part, keep_blank_values=True)
        except ValueError:
            continue
        params.extend((name.strip().lower(), value) for name, value in pairs)
    return params


def _is_campaign_param(name: str) -> bool:
    return name.startswith(_CAMPAIGN_PREFIXES) or name in _CAMPAIGN_PARAMS


def has_campaign(landing_url: str) -> bool:
    """True if the landing URL carries any campaign parameter."""
    if not landing_url or "=" not in landing_url:
        return False
    return any(_is_campaign_param(name) for name, _ in _url_params(landing_url))


def campaign_name(landing_url: str) -> str | None:
    """The campaign a landing URL belongs to, or None if it has no campaign parameters.

    Taken from the campaign-name parameter (``mtm_campaign``, ``pk_campaign``,
    ``utm_campaign``, …), falling back to the source parameter; lower-cased and
    whitespace-collapsed as Matomo does. ``"(not set)"`` when the URL has campaign
    parameters but neither a name nor a source.
    """
    if not landing_url or "=" not in landing_url:
        return None
    params = _url_params(landing_url)
    if not any(_is_campaign_param(name) for name, _ in params):
        return None
    values = {}
    for name, value in params:
        values.setdefault(name, value)
    for name in _CAMPAIGN_NAME_PARAMS:
        value = " ".join(values.get(name, "").split()).lower()
        if value:
            return value[:MAX_CAMPAIGN_CHARS]
    return NOT_SET


# --- classification ---------------------------------------------------------------------


def _internal_matcher(site_host: str, aliases: Iterable[str]):
    exact = set()
    suffixes = []
    for raw in [site_host, *aliases]:
        candidate = raw.strip().lower()
        if candidate.startswith("*."):
            host = normalize_host(candidate[2:])
            if host:
                suffixes.append("." + host)
                exact.add(_strip_www(host))
            continue
        host = normalize_host(candidate)
        if host:
            exact.add(_strip_www(host))
    suffix_tuple = tuple(suffixes)

    def is_internal(host: str) -> bool:
        return _strip_www(host) in exact or (bool(suffix_tuple) and host.endswith(suffix_tuple))

    return is_internal


def classify_referrers(
    referrer_urls: Sequence[str | None],
    site_host: str,
    landing_urls: Sequence[str | None] | None = None,
    *,
    aliases: Iterable[str] = (),
) -> list[RefInfo]:
    """Classify referrers of one site; returns a list parallel to ``referrer_urls``.

    ``landing_urls``, if given, is parallel to ``referrer_urls`` (the page each referrer
    led to) and is only used to detect campaigns. ``aliases`` are further hosts of the
    same site (``*.example.org`` for all subdomains). ``None`` counts as no referrer.
    Never raises on odd input.
    """
    if landing_urls is not None and len(landing_urls) != len(referrer_urls):
        raise ValueError("landing_urls must be parallel to referrer_urls")
    is_internal = _internal_matcher(site_host, aliases)
    results: list[RefInfo] = []
    for index, url in enumerate(referrer_urls):
        parsed = parse_referrer(url) if url else None
        if parsed is not None and is_internal(parsed[0]):
            results.append(RefInfo("internal", parsed[0], parsed[1]))
            continue
        host = parsed[0] if parsed is not None else ""
        landing = landing_urls[index] if landing_urls is not None else None
        if landing and has_campaign(landing):
            results.append(RefInfo("campaign", host, ""))
            continue
        if parsed is None:
            results.append(DIRECT)
            continue
        source = lookup_source(host)
        if source is None:
            results.append(RefInfo("website", host, ""))
        else:
            results.append(RefInfo(source.ref_class, host, "", source.name))
    return results


# --- referrer spam ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _spam_hosts() -> frozenset[str]:
    text = (files("amtspuls.data") / "enrich" / SPAM_FILE).read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


@lru_cache(maxsize=CACHE_SIZE)
def _is_spam_host(host: str) -> bool:
    spam = _spam_hosts()
    labels = host.split(".")
    # the host itself and each parent domain, but never a bare top-level domain
    return any(".".join(labels[start:]) in spam for start in range(len(labels) - 1))


def is_spam_referrer(hosts: Sequence[str | None]) -> list[bool]:
    """For each referrer host (or URL), whether it or a parent domain is a known spammer."""
    results = []
    for value in hosts:
        host = normalize_host(value) if value else ""
        results.append(bool(host) and _is_spam_host(host))
    return results
