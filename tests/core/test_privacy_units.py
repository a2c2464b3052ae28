"""Privacy building blocks: IP truncation, PII scrubbing (Python and engine agree),
daily salts and the visitor id."""

from __future__ import annotations

import ipaddress
import os
import stat
import time
from datetime import date, datetime, timedelta

import duckdb
import pytest
from core_helpers import CHROME_WIN, FIREFOX, combined_line, import_inproc, stored
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amtspuls.privacy.ip import truncate_ip
from amtspuls.privacy.pii import scrub, sql_scrub
from amtspuls.privacy.salts import SaltStore
from amtspuls.privacy.visitor import sql_truncated_ip

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# --- IP truncation ---------------------------------------------------------------------------


@FAST
@given(st.ip_addresses(v=4))
def test_ipv4_keeps_three_octets(addr):
    text = str(addr)
    expected = ".".join(text.split(".")[:3]) + ".0"
    assert truncate_ip(text) == expected
    assert truncate_ip(f" {text} ") == expected
    assert truncate_ip(f"{text}:8443") == expected  # host:port from some proxies


def _not_mapped(addr: ipaddress.IPv6Address) -> bool:
    return addr.ipv4_mapped is None


@FAST
@given(st.ip_addresses(v=6).filter(_not_mapped))
def test_ipv6_keeps_48_bits(addr):
    expected = ipaddress.ip_network(f"{addr}/48", strict=False).network_address
    # the same, computed on the integer: the lower 80 bits cleared
    assert expected == ipaddress.IPv6Address(int(addr) >> 80 << 80)
    for form in (str(addr), addr.exploded, f"[{addr}]", str(addr).upper()):
        out = truncate_ip(form)
        assert ipaddress.IPv6Address(out) == expected, form


@FAST
@given(st.ip_addresses(v=4))
def test_ipv4_mapped_ipv6_is_treated_as_ipv4(addr):
    expected = ".".join(str(addr).split(".")[:3]) + ".0"
    assert truncate_ip(f"::ffff:{addr}") == expected
    mapped = ipaddress.IPv6Address(f"::ffff:{addr}")
    assert truncate_ip(mapped.exploded) == expected  # 0000:…:ffff:c000:0201 form


GARBAGE_ALPHABET = "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ-_/ßäöü ,;"


@FAST
@given(st.text(alphabet=GARBAGE_ALPHABET, max_size=30))
def test_garbage_is_no_address(text):
    assert truncate_ip(text) == ""


@pytest.mark.parametrize("text", [
    None, "", "-", "unknown", "unix:", "localhost", "www.musterstadt.de", "1.2.3",
    "256.1.1.1", "1.2.3.4.5", "2001:db8:::1", "12345", "1.2.3.4/24", "::g",
])
def test_non_addresses_give_empty_string(text):
    assert truncate_ip(text) == ""


ENGINE = duckdb.connect(":memory:")
ENGINE.execute("CREATE TABLE ip_other (ip VARCHAR, truncated VARCHAR)")


@FAST
@given(st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=20))
def test_engine_ipv4_truncation_agrees(addrs):
    """The vectorised IPv4 rule of the engine (string functions) gives the same result."""
    expr = sql_truncated_ip("c.ip")
    rows = ENGINE.execute(
        f"SELECT list(t ORDER BY n) FROM (SELECT n, {expr} AS t FROM "
        "(SELECT unnest($1::VARCHAR[]) AS ip, unnest(range(len($1))) AS n) c "
        "LEFT JOIN ip_other ON c.ip = ip_other.ip)", [addrs]
    ).fetchall()
    assert rows[0][0] == [".".join(a.split(".")[:3]) + ".0" for a in addrs]


# --- PII scrubbing ---------------------------------------------------------------------------

WORDS = ["Antrag", "Personalausweis", "Sperrmüll", "bitte", "Rückruf", "an", "Straße",
         "Bürgeramt", "Termin", "für", "Frau", "Müller", "wegen", "Wohngeld"]
text_words = st.lists(st.sampled_from(WORDS), min_size=0, max_size=4).map(" ".join)

local_part = st.from_regex(r"[a-z0-9](?:[a-z0-9._-]{0,14}[a-z0-9])?", fullmatch=True)
domain = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?(?:\.[a-z]{2,6}){1,2}",
                       fullmatch=True)
emails = st.builds(lambda a, b: f"{a}@{b}", local_part, domain)


@st.composite
def german_phones(draw):
    prefix = draw(st.sampled_from(["+49 ", "+49 (0)", "+49-", "0049 ", "0049", "0", "(0"]))
    area = draw(st.sampled_from(["30", "40", "89", "221", "341", "6151", "171", "1522",
                                 "3381", "511"]))
    if prefix == "(0":
        area += ")"
    sep = draw(st.sampled_from([" ", "/", "-", " / ", " "]))
    n = draw(st.integers(5, 8))
    digits = draw(st.from_regex(rf"[1-9][0-9]{{{n - 1}}}", fullmatch=True))
    if draw(st.booleans()) and n >= 6:
        digits = f"{digits[:3]} {digits[3:]}"
    return f"{prefix}{area}{sep}{digits}"


def iban_de(blz: int, account: int) -> str:
    """A German IBAN with a correct check number (ISO 13616, mod 97)."""
    bban = f"{blz:08d}{account:010d}"
    check = 98 - int(bban + "131400") % 97  # D=13, E=14, check digits 00
    return f"DE{check:02d}{bban}"


ibans = st.builds(iban_de, st.integers(10_000_000, 99_999_999), st.integers(0, 9_999_999_999))
ibans_grouped = ibans.map(lambda s: " ".join(s[i:i + 4] for i in range(0, len(s), 4)))
steuer_ids = st.from_regex(r"[1-9][0-9]{10}", fullmatch=True)
steuer_ids_grouped = steuer_ids.map(lambda s: f"{s[:2]} {s[2:5]} {s[5:8]} {s[8:]}")
steuernummern = st.from_regex(r"[1-9][0-9]/[0-9]{3}/[0-9]{5}", fullmatch=True)
ipv4s = st.ip_addresses(v=4).map(str)
# Client addresses are global unicast (2000::/3): never written with a leading "::"
ipv6s = st.ip_addresses(v=6, network="2000::/3").map(str)


def scrubbed_in_context(value: str, placeholder: str, before: str, after: str) -> None:
    text = f"{before} {value} {after}".strip()
    expected = f"{before} {placeholder} {after}".strip()
    assert scrub(text) == expected, (text, scrub(text))


@FAST
@given(emails, text_words, text_words)
def test_scrub_emails(value, before, after):
    scrubbed_in_context(value, "<EMAIL>", before, after)
    scrubbed_in_context(value.replace("@", "%40"), "<EMAIL>", before, after)


@FAST
@given(german_phones(), text_words, text_words)
def test_scrub_german_phone_numbers(value, before, after):
    # "(030) 1234567": the opening parenthesis is left (it says nothing)
    placeholder = "(<PHONE>" if value.startswith("(") else "<PHONE>"
    scrubbed_in_context(value, placeholder, before, after)


@FAST
@given(st.one_of(ibans, ibans_grouped), text_words, text_words)
def test_scrub_ibans(value, before, after):
    scrubbed_in_context(value, "<IBAN>", before, after)


@FAST
@given(st.one_of(steuer_ids, steuer_ids_grouped, steuernummern), text_words, text_words)
def test_scrub_tax_ids(value, before, after):
    scrubbed_in_context(value, "<TAXID>", before, after)


@FAST
@given(st.one_of(ipv4s, ipv6s), text_words, text_words)
def test_scrub_ips_in_text(value, before, after):
    scrubbed_in_context(value, "<IP>", before, after)


@pytest.mark.parametrize("text, expected", [
    ("DE89 3704 0044 0532 0130 00", "<IBAN>"),
    ("IBAN: DE89370400440532013000, BIC COBADEFFXXX", "IBAN: <IBAN>, BIC COBADEFFXXX"),
    ("Tel. 030 1234567", "Tel. <PHONE>"),
    ("ruf an: +49 30 1234567!", "ruf an: <PHONE>!"),
    ("0049 89 12345678", "<PHONE>"),
    ("0171-2345678 oder 030/1234567", "<PHONE> oder <PHONE>"),
    ("Steuer-ID 12 345 678 901", "Steuer-ID <TAXID>"),
    ("von 192.0.2.44 aus", "von <IP> aus"),
    ("mail max.muster@amt.musterstadt.de", "mail <EMAIL>"),
])
def test_scrub_examples(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize("text", [
    "Hauptstraße 12, 2026-01-05",
    "Bescheid vom 05.01.2026, Az. 2026/123",
    "PLZ 12345 Berlin, Zimmer 3.12",
    "Kosten: 1.000,50 Euro im Jahr 2025",
    "Sprechzeiten Mo-Fr 8-12 Uhr, Termin 10:30",
    "Am 12.03.2026 um 14:00 Uhr, Flurstück 123/45",
    "Version 1.2.3, Top 10, Hausnummer 7a",
    "Öffnungszeiten 2026: Mo 8:00-12:00",
])
def test_ordinary_text_is_left_alone(text):
    assert scrub(text) == text


def test_scrub_leading_double_colon_ipv6():
    assert scrub("von ::ffff:c000:22c aus") == "von <IP> aus"
    assert scrub("Zugriff von ::1") == "Zugriff von <IP>"


# Random texts from pieces of personal data, words, numbers and separators: the engine
# expression gives exactly what the Python function gives.
pieces = st.one_of(
    emails, german_phones(), ibans, ibans_grouped, steuer_ids, steuer_ids_grouped,
    steuernummern, ipv4s, ipv6s, st.sampled_from(WORDS),
    st.from_regex(r"[0-9]{1,12}", fullmatch=True),
    st.sampled_from(["2026-01-05", "05.01.2026", "Hauptstraße 12", "10:30", "1.2.3", "%40",
                     "+", "00", "::", "@", "/", "DE", "a.b", "€", "ß"]),
    st.text(max_size=6),
)
separators = st.sampled_from(["", " ", "  ", ",", ", ", "/", "-", ".", ":", "+", "&q=", "\t"])


@st.composite
def mixed_texts(draw):
    parts = draw(st.lists(st.tuples(pieces, separators), min_size=1, max_size=6))
    return "".join(p + s for p, s in parts)


SCRUB_SQL = (
    f"SELECT list_transform($1::VARCHAR[], lambda t: {sql_scrub('t')})"
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mixed_texts(), min_size=1, max_size=25))
def test_engine_scrub_equals_python_scrub(texts):
    texts = [t.replace("\x00", "") for t in texts]
    (engine,) = ENGINE.execute(SCRUB_SQL, [texts]).fetchone()
    assert engine == [scrub(t) for t in texts]


# --- salts -----------------------------------------------------------------------------------

def test_salts_are_per_day_private_and_stable(tmp_path):
    salts = SaltStore(tmp_path / "salts", keep_hours=48)
    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)
    a, b = salts.salt_for(d1), salts.salt_for(d2)
    assert a != b and len(a) == 64 and int(a, 16) >= 0
    assert SaltStore(tmp_path / "salts").salt_for(d1) == a  # read back, not re-made
    mode = stat.S_IMODE((tmp_path / "salts" / "2026-03-01.salt").stat().st_mode)
    assert mode == 0o600


def test_purge_deletes_salts_older_than_48_hours(tmp_path):
    salts = SaltStore(tmp_path / "salts", keep_hours=48)
    now = time.time()
    ages = {date(2026, 3, 1): 49, date(2026, 3, 2): 72, date(2026, 3, 3): 47,
            date(2026, 3, 4): 1}
    for day, hours in ages.items():
        salts.salt_for(day)
        path = tmp_path / "salts" / f"{day.isoformat()}.salt"
        os.utime(path, (now - hours * 3600, now - hours * 3600))
    old_value = salts.salt_for(date(2026, 3, 1))
    assert salts.purge(now=now) == 2
    left = sorted(p.name for p in (tmp_path / "salts").iterdir())
    assert left == ["2026-03-03.salt", "2026-03-04.salt"]
    # a purged day's salt is gone for good: asking again makes a new one
    assert salts.salt_for(date(2026, 3, 1)) != old_value


# --- visitor ids -----------------------------------------------------------------------------

def test_visitor_ids(tmp_path):
    """Same address + UA on one day: one id; another day, /24, /48 or UA: another id."""
    day1 = datetime(2026, 2, 10)  # winter: UTC and Berlin days coincide from 01:00 to 23:00
    day2 = day1 + timedelta(days=1)
    hits = [  # (label, ip, ua, time)
        ("a_morning", "203.0.113.5", FIREFOX, day1.replace(hour=8)),
        ("a_evening", "203.0.113.5", FIREFOX, day1.replace(hour=20)),
        ("a_next_day", "203.0.113.5", FIREFOX, day2.replace(hour=8)),
        ("same_24", "203.0.113.77", FIREFOX, day1.replace(hour=9)),
        ("mapped", "::ffff:203.0.113.200", FIREFOX, day1.replace(hour=9, minute=5)),
        ("other_24", "203.0.114.5", FIREFOX, day1.replace(hour=9, minute=10)),
        ("other_ua", "203.0.113.5", CHROME_WIN, day1.replace(hour=9, minute=15)),
        ("v6_a", "2001:db8:1:2::5", FIREFOX, day1.replace(hour=10)),
        ("v6_same_48", "2001:db8:1:ffff::9", FIREFOX, day1.replace(hour=10, minute=5)),
        ("v6_other_48", "2001:db8:2::5", FIREFOX, day1.replace(hour=10, minute=10)),
        ("xff_chain", "203.0.113.9, 10.0.0.1", FIREFOX, day1.replace(hour=11)),
    ]
    log = tmp_path / "v.log"
    log.write_text("\n".join(
        combined_line(ip, ts, f"GET /{label} HTTP/1.1", 200, ua) for label, ip, ua, ts in hits
    ) + "\n", "utf-8")
    assert import_inproc(tmp_path / "data", "www.musterstadt.de", log)["pageviews"] == len(hits)
    ids = dict(stored(tmp_path / "data", "SELECT substr(path, 2), visitor_id FROM events"))
    assert len(ids) == len(hits)
    same = [("a_morning", "a_evening"), ("a_morning", "same_24"), ("a_morning", "mapped"),
            ("a_morning", "xff_chain"), ("v6_a", "v6_same_48")]
    for x, y in same:
        assert ids[x] == ids[y], (x, y)
    different = ["a_morning", "a_next_day", "other_24", "other_ua", "v6_a", "v6_other_48"]
    assert len({ids[x] for x in different}) == len(different)
