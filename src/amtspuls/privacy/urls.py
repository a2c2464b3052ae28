"""URL reduction: scheme and host dropped, query strings cut to an allow-list,
percent-decoding, personal data replaced. Engine expressions, built from the rules
in `data/request_rules.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from amtspuls.privacy.pii import sql_scrub


@dataclass(frozen=True)
class RequestRules:
    static_extensions: tuple[str, ...]
    download_extensions: tuple[str, ...]
    search_params: tuple[str, ...]
    campaign_params: tuple[str, ...]
    campaign_name_params: tuple[str, ...]
    tracker_paths: tuple[str, ...]
    page_methods: tuple[str, ...]


@lru_cache(maxsize=8)
def load_rules(override: Path | None = None) -> RequestRules:
    data = tomllib.loads(
        resources.files("amtspuls.data").joinpath("request_rules.toml").read_text("utf-8")
    )
    if override is not None and override.is_file():
        data.update(tomllib.loads(override.read_text("utf-8")))
    return RequestRules(**{k: tuple(v) for k, v in data.items()})


def sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def sql_decode(expr: str) -> str:
    """Percent-decoding that keeps the original where it is not valid UTF-8."""
    return f"coalesce(try(url_decode({expr})), {expr})"


def sql_path_and_query(url_expr: str) -> tuple[str, str]:
    """(path, raw query) expressions for a request URL or an absolute URL."""
    rest = f"regexp_replace({url_expr}, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*', '')"
    no_fragment = f"split_part({rest}, '#', 1)"
    path = f"split_part({no_fragment}, '?', 1)"
    at = f"strpos({no_fragment}, '?')"
    query = f"CASE WHEN {at} > 0 THEN substr({no_fragment}, {at} + 1) ELSE '' END"
    return path, query


def sql_clean_path(path_expr: str) -> str:
    decoded = sql_decode(path_expr)
    collapsed = f"regexp_replace({decoded}, '/{{2,}}', '/', 'g')"
    rooted = f"coalesce(nullif({collapsed}, ''), '/')"
    return f"left({sql_scrub(rooted)}, 1024)"


_KV_KEY = "split_part(kv, '=', 1)"


def sql_param(query_expr: str, names: tuple[str, ...]) -> str:
    """Decoded value of the first non-empty parameter among `names`, else NULL."""
    pairs = f"string_split({query_expr}, '&')"
    key = sql_decode(_KV_KEY)
    picked = (
        f"list_filter({pairs}, lambda kv: lower({key}) "
        f"IN {sql_list(names)} AND split_part(kv, '=', 2) <> '')"
    )
    value = f"substr({picked}[1], strpos({picked}[1], '=') + 1)"
    decoded = sql_decode(f"replace({value}, '+', ' ')")
    return f"nullif(trim({decoded}), '')"


def sql_kept_query(query_expr: str, rules: RequestRules) -> str:
    """The query string cut to search and campaign parameters, values scrubbed."""
    allowed = rules.search_params + rules.campaign_params
    pairs = f"string_split({query_expr}, '&')"
    key = sql_decode(_KV_KEY)
    kept = f"list_filter({pairs}, lambda kv: lower({key}) IN {sql_list(allowed)})"
    # A value is scrubbed as decoded text ('+' and %XX), where personal data can be seen
    # ("q=030+1234567" is a phone number); a value in which scrubbing finds something is
    # stored decoded with its placeholders, any other one as it came.
    value = "substr(kv, strpos(kv, '=') + 1)"
    decoded = sql_decode(f"replace({value}, '+', ' ')")
    scrubbed = sql_scrub(decoded)
    each = (
        f"list_transform({kept}, lambda kv: CASE WHEN strpos(kv, '=') > 0 "
        f"AND {scrubbed} IS DISTINCT FROM {decoded} "
        f"THEN split_part(kv, '=', 1) || '=' || {scrubbed} ELSE {sql_scrub('kv')} END)"
    )
    return f"left(array_to_string({each}, '&'), 1024)"


def sql_target(url_expr: str) -> str:
    """A download or outlink target: scheme, host and path; no query, no fragment."""
    bare = f"split_part(split_part({url_expr}, '#', 1), '?', 1)"
    return f"left({sql_scrub(sql_decode(bare))}, 1024)"
