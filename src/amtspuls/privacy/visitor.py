"""The pseudonymous visitor id: a keyed hash that changes every day.

    visitor_id = first 64 bits of SHA-256(daily salt | site | truncated IP | user agent)

The truncated IP and the user agent exist only inside this expression; the salt is
deleted after 48 hours, after which an id can no longer be linked to anything."""

from __future__ import annotations

from amtspuls.privacy.ip import SQL_IPV4


def sql_truncated_ip(ip_expr: str) -> str:
    """IPv4 truncated to /24 in the engine (string functions: the last octet becomes 0);
    other forms come from the `ip_other` lookup table (see `ip.truncate_ip`)."""
    return (
        f"CASE WHEN regexp_full_match({ip_expr}, '{SQL_IPV4}') "
        f"THEN left({ip_expr}, length({ip_expr}) - strpos(reverse({ip_expr}), '.')) || '.0' "
        f"ELSE coalesce(ip_other.truncated, '') END"
    )


def sql_visitor_id(site_id: int) -> str:
    return (
        "('0x' || left(sha256(salt || '|' || "
        f"'{int(site_id)}' || '|' || ip_trunc || '|' || coalesce(user_agent, '')), 16))::UBIGINT"
    )
