"""Nothing personal reaches the disk: after importing real logs (IPv4 and IPv6 clients,
X-Forwarded-For chains) and a log full of personal data in URLs and referrers, no
client address, no user agent and no e-mail / phone / IBAN / tax id is in any file of
the data directory or in any text column of the store."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta

import duckdb
import pytest
from core_helpers import (
    APACHE_TEST,
    CHROME_WIN,
    ELASTIC_LOG,
    FIREFOX,
    GOACCESS_VCOMBINED,
    IPHONE,
    NGINX_TEST,
    SHOP_LOG,
    addresses_in,
    cli,
    combined_line,
    one_json,
)

SITE = "www.musterstadt.de"
BASE = datetime(2026, 3, 2, 9, 0, 0)

# Personal data that a citizen may put into a URL, a search or a referrer.
EMAIL = "erika.mustermann@example.org"
PHONES = ["030 12345678", "+49 30 12345678", "0049 89 1234567", "0171-2345678"]
IBAN = "DE89 3704 0044 0532 0130 00"
TAXID = "12 345 678 901"  # Steuer-ID, grouped as printed on letters
SECRETS = ["sessionid=s3cr3t-token-4711", "token=s3cr3t-token-4711", "s3cr3t-token-4711"]


def _enc(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def synthetic_pii_log() -> list[str]:
    """Combined log lines with personal data in paths, kept and dropped parameters,
    referrers and campaign names; IPv4, IPv6, IPv4-mapped and X-Forwarded-For clients."""
    clients = ["2001:db8:4:7::1234", "2a02:8108:1a40:5e00:9d2b:1c1f:aa01:77", "::ffff:192.0.2.77",
               "198.51.100.23, 10.0.0.7, 172.16.3.4", "2001:db8:aa::5, 10.1.2.3"]
    uas = [FIREFOX, IPHONE, CHROME_WIN]
    requests = [
        f"GET /suche?q={_enc(EMAIL)} HTTP/1.1",
        f"GET /suche?q={_enc(PHONES[0]).replace('%20', '+')} HTTP/1.1",
        f"GET /suche?suche={_enc(PHONES[1])} HTTP/1.1",
        f"GET /suche?q={_enc(IBAN).replace('%20', '+')}&sessionid=s3cr3t-token-4711 HTTP/1.1",
        f"GET /suche?q={_enc(TAXID)} HTTP/1.1",
        f"GET /buerger/{_enc(EMAIL)}/profil?token=s3cr3t-token-4711 HTTP/1.1",
        f"GET /rueckruf/{_enc(PHONES[2])} HTTP/1.1",
        f"GET /kontakt?utm_campaign={_enc(PHONES[3])}&utm_source=newsletter HTTP/1.1",
        "GET /status/203.0.113.99/ping HTTP/1.1",
        "GET /netz?ip=2001:db8:beef::42&q=198.51.100.200 HTTP/1.1",
        f"GET /formulare/antrag-{_enc(EMAIL)}.pdf HTTP/1.1",
        "GET /nicht/da HTTP/1.1",
    ]
    referrers = [
        "-",
        f"https://{SITE}/kontakt/{_enc(PHONES[0])}?email={_enc(EMAIL)}",
        "http://203.0.113.250/weiter",
        f"https://{SITE}/iban/{IBAN.replace(' ', '')}",
        "https://www.google.de/search?q=erika+mustermann+030+12345678",
    ]
    lines = []
    for i, request in enumerate(requests):
        for j, client in enumerate(clients):
            ts = BASE + timedelta(minutes=3 * i, seconds=j)
            status = 404 if "nicht/da" in request else 200
            lines.append(combined_line(client, ts, request, status, uas[(i + j) % len(uas)],
                                       referrers[(i + j) % len(referrers)]))
    return lines


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("privacy")
    pii = folder / "pii_access.log"
    pii.write_text("\n".join(synthetic_pii_log()) + "\n", "utf-8")
    files = [pii, NGINX_TEST, APACHE_TEST, GOACCESS_VCOMBINED]
    files += [p for p in (ELASTIC_LOG, SHOP_LOG) if p.is_file()]
    data = folder / "data"
    run = cli(data, "import-logs", *map(str, files), "--site", SITE, "--json")
    assert run.code == 0, run.err
    out = one_json(run.out)
    assert out["imported"] > 0 and out["events"].get("search", 0) >= 5
    raw = [p.read_bytes().decode("utf-8", "replace") for p in files]
    return data, raw, out


def user_agents(raw_texts: list[str]) -> set[str]:
    found = set()
    for text in raw_texts:
        for line in text.splitlines():
            quoted = re.findall(r'"((?:[^"\\]|\\.)*)"', line)
            found.update(q for q in quoted if "/" in q and len(q) >= 30)
    return found


def stored_texts(data) -> list[tuple[str, str, str]]:
    """(table, column, value) for every distinct text value in the store."""
    con = duckdb.connect(str(data / "amtspuls.duckdb"), read_only=True)
    try:
        cols = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON') AND table_schema = 'main'"
        ).fetchall()
        assert ("events", "path") in cols and ("sessions", "entry_path") in cols
        values = []
        for table, column in cols:
            for (value,) in con.execute(
                f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{table}" '
                f'WHERE "{column}" IS NOT NULL'
            ).fetchall():
                values.append((table, column, value))
        return values
    finally:
        con.close()


def test_the_raw_input_does_contain_what_is_looked_for(imported):
    """Guards the test itself: the inputs hold IPv4, IPv6 and chained addresses."""
    _, raw, _ = imported
    addresses = set().union(*(addresses_in(t) for t in raw))
    versions = {ipaddress.ip_address(a).version for a in addresses}
    assert versions == {4, 6}
    assert {"10.0.0.2", "85.181.35.98", "2001:db8:4:7::1234", "::1"} <= addresses
    assert len(addresses) > 20
    assert len(user_agents(raw)) >= 3


def test_no_address_in_the_bytes_of_any_file(imported):
    data, raw, _ = imported
    addresses = set().union(*(addresses_in(t) for t in raw))
    # Very short forms ("::1") could occur by chance in binary data; the column scan
    # below covers them.
    needles = sorted(a for a in addresses if len(a) >= 7)
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.suffix == ".duckdb" for p in files)
    assert any(p.suffix == ".salt" for p in files)
    assert all(re.fullmatch(r"[0-9A-Fa-f:.]+", a) for a in needles)
    for path in files:
        # Every occurrence of an address lies inside a run of address characters: search
        # those runs only (the same answer as searching the whole file, much faster).
        runs = b"\n".join(set(re.findall(rb"[0-9A-Fa-f:.]{7,}", path.read_bytes())))
        leaked = [a for a in needles if a.encode() in runs]
        assert not leaked, f"{path.name} contains {leaked[:5]}"


def test_no_address_user_agent_or_personal_data_in_any_text_column(imported):
    data, raw, _ = imported
    values = stored_texts(data)
    assert len(values) > 100
    for table, column, value in values:
        found = addresses_in(value)
        assert not found, f"{table}.{column} holds an address: {value!r}"
    everything = "\n".join(v for _, _, v in values)
    for ua in user_agents(raw):
        assert ua not in everything, f"user agent stored: {ua!r}"
    lowered = everything.lower()
    personal = [EMAIL, IBAN, IBAN.replace(" ", ""), TAXID, TAXID.replace(" ", ""), *PHONES,
                "12345678", "2345678", "1234567", "erika", *SECRETS]
    for text in personal:
        assert text.lower() not in lowered, f"{text!r} stored"


def test_what_is_kept_is_scrubbed_not_dropped(imported):
    """The allow-list keeps search and campaign parameters, with placeholders."""
    data, _, _ = imported
    values = stored_texts(data)
    by_col: dict[tuple[str, str], set[str]] = {}
    for table, column, value in values:
        by_col.setdefault((table, column), set()).add(value)
    paths = by_col[("events", "path")]
    assert "/buerger/<EMAIL>/profil" in paths
    assert "/rueckruf/<PHONE>" in paths
    assert "/status/<IP>/ping" in paths
    searches = by_col[("events", "search_query")]
    assert {"<EMAIL>", "<PHONE>", "<IBAN>", "<TAXID>"} <= searches
    queries = by_col[("events", "query")]
    assert "q=<IBAN>" in queries  # sessionid dropped, q kept and scrubbed
    assert "utm_campaign=<PHONE>&utm_source=newsletter" in queries
    assert all("token" not in q and "ip=" not in q for q in queries)
    assert "/kontakt/<PHONE>" in by_col[("events", "referrer_path")]
