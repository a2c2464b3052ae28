"""Placeholders for personal data in free text, paths and kept URL parameters.

The same patterns run in Python (`scrub`) and vectorised in the engine (`sql_scrub`),
so they are written in the common subset of Python `re` and RE2 (no look-around):
a boundary is captured as group 1 and written back.
"""

from __future__ import annotations

import re

# (placeholder, pattern). Order matters: IBAN before phone (an IBAN holds long digit runs),
# e-mail first (an address may contain digits).
_RULES: list[tuple[str, str]] = [
    ("<EMAIL>", r"(^|[^A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    ("<IBAN>", r"(^|[^A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[ +-]?[A-Za-z0-9]{4}){3,7}(?:[ +-]?[A-Za-z0-9]{1,3})?"),
    ("<IP>", r"(^|[^0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}"),
    ("<IP>", r"(^|[^0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"),
    ("<IP>", r"(^|[^0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?"),
    # leading "::" (loopback ::1, IPv4-mapped ::ffff:c000:22c)
    ("<IP>", r"(^|[^0-9A-Za-z:])::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4}"),
    # German tax numbers: Steuer-ID (11 digits, never a leading 0 nor after a "+": such a
    # run is a phone number, "0301234567", "+49 221 123456") and Steuernummer
    # (12/345/67890 forms).
    ("<TAXID>", r"(^|[^0-9+])[1-9][0-9][ ]?[0-9]{3}[ ]?[0-9]{3}[ ]?[0-9]{3}"),
    ("<TAXID>", r"(^|[^0-9/])[0-9]{2,3}/[0-9]{3,4}/[0-9]{4,5}"),
    # Phone numbers: +49 / 0049 / 0 followed by an area code and at least 6 more digits,
    # with the usual separators.
    ("<PHONE>", r"(^|[^0-9+])(?:\+|00)[1-9][0-9]{0,2}[ ()/.-]*(?:[0-9][ ()/.-]*){6,13}[0-9]"),
    ("<PHONE>", r"(^|[^0-9])0[1-9][0-9]{1,4}[ ()/.-]*(?:[0-9][ ()/.-]*){4,10}[0-9]"),
]

_COMPILED = [(ph, re.compile(pat)) for ph, pat in _RULES]
PLACEHOLDERS = ("<EMAIL>", "<PHONE>", "<IBAN>", "<TAXID>", "<IP>")


def scrub(text: str | None) -> str | None:
    """Replace personal data in `text` by placeholders."""
    if not text:
        return text
    for placeholder, rx in _COMPILED:
        text = rx.sub(lambda m, p=placeholder: m.group(1) + p, text)
    return text


def sql_scrub(expr: str) -> str:
    """The same replacement as an engine (DuckDB) expression over `expr`."""
    out = expr
    for placeholder, pattern in _RULES:
        pat = pattern.replace("'", "''")
        out = f"regexp_replace({out}, '{pat}', '\\1{placeholder}', 'g')"
    return out
