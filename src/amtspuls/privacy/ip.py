"""IP truncation. The truncated address never leaves memory: it only feeds the visitor hash."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

IPV4_PREFIX = 24
IPV6_PREFIX = 48


@lru_cache(maxsize=65536)
def truncate_ip(raw: str | None) -> str:
    """`203.0.113.77` → `203.0.113.0`; `2001:db8:1:2::5` → `2001:db8:1::`.

    IPv4-mapped IPv6 addresses are treated as IPv4. Anything that is not an address
    (a hostname, `-`, garbage) becomes the empty string: it identifies no one's network
    and must not be kept either."""
    if not raw:
        return ""
    text = raw.strip().strip("[]")
    if "%" in text:
        text = text.split("%", 1)[0]  # zone index
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        # `host:port` forms from some proxies
        head = text.rsplit(":", 1)[0] if text.count(":") == 1 else ""
        try:
            addr = ipaddress.ip_address(head)
        except ValueError:
            return ""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    prefix = IPV4_PREFIX if addr.version == 4 else IPV6_PREFIX
    net = ipaddress.ip_network(f"{addr}/{prefix}", strict=False)
    return str(net.network_address)


# Vectorised IPv4 rule for the engine; other values go through truncate_ip().
SQL_IPV4 = r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"
