"""Property tests: any line given to any format is a hit, malformed or skipped (never an
exception), and lines generated from random valid fields parse back to those fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amtspuls.collect.logs.formats import get_format, registry
from amtspuls.collect.logs.reader import LineBatch

NAMES = sorted(registry())

# Pieces of real log syntax, so that random lines come close to every format.
FRAGMENTS = [
    '"', "[", "]", "{", "}", "|", "\t", " ", "  ", "-", ",", ":", "\\", '\\"', '""',
    "#Fields:", "#Date:", "#Software: Microsoft IIS", "date", "time", "c-ip", "cs-method",
    "cs-uri-stem", "sc-status", "cs(User-Agent)", "x-edge-location", "x-event",
    "1.2.3.4", "10.0.0.1, 8.8.8.8", "::1", "unix:", "1.2.3.4:80", "[::1]:443",
    "10/Feb/2012:16:42:07 -0500", "[10/Feb/2012:16:42:07 -0500]", "31/Feb/2012:99:99:99",
    "2024-01-02", "03:04:05", "2024-01-02T03:04:05Z", "9999-99-99T99:99:99Z",
    "GET", "POST", "/x?y=1", "HTTP/1.1", "200", "-1", "99999999999999999999", "+5",
    '"GET / HTTP/1.1"', '"- - - "', "(0 s)", "29ms", "play", "[2]USER",
    "Mar  1 10:00:00", "host", "haproxy[7]:", "nginx:", "<134>1",
    '{"ip":', '"ts":', '"request":{', '"status":', '"date":', "1700000000.5", "null",
    "true", "[]", "MISS", "https://example.com/p", "caddy  |", "\u200b", "ä", "\x00", "\ufffd",
]

line_text = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
            max_size=120),
    st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=25).map(" ".join),
)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(line_text, min_size=1, max_size=12))
def test_any_line_is_accounted_for(name, lines, engine):
    fmt = get_format(name)
    first = 7
    parsed = fmt.parse(LineBatch(first, lines, []), engine)
    line_nos = parsed.hits.column("line_no").to_pylist()
    assert len(set(line_nos)) == len(line_nos)
    assert not set(line_nos) & set(parsed.malformed)
    assert all(first <= n < first + len(lines) for n in line_nos + parsed.malformed)
    assert len(line_nos) + len(parsed.malformed) + sum(parsed.skipped.values()) == len(lines)
    assert parsed.hits.column("ts").null_count == 0
    assert fmt.match_rate(lines) >= 0.0


# --- round trips --------------------------------------------------------------------------

OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=2)),
                           timezone(timedelta(hours=-5)), timezone(timedelta(hours=3, minutes=30))])
moments = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2090, 12, 31),
                       timezones=OFFSETS).map(lambda d: d.replace(microsecond=0))
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
methods = st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"])
paths = st.from_regex(r"/[A-Za-z0-9._~%/?=&+:;,!*()-]{0,60}", fullmatch=True)
statuses = st.integers(100, 599)
sizes = st.one_of(st.integers(0, 10**12), st.just(None))
referrers = st.one_of(st.none(), st.from_regex(r"https?://[a-z0-9.-]{1,20}/[A-Za-z0-9/._?=&-]{0,30}",
                                               fullmatch=True))
agents = st.one_of(
    st.none(),
    st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF, blacklist_characters='"\\',
                          blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80)
    .filter(lambda s: s != "-"),
)
hosts = st.from_regex(r"[a-z0-9][a-z0-9-]{0,14}(\.[a-z]{2,6}){1,2}(:[0-9]{2,5})?", fullmatch=True)


def _clf_time(moment: datetime) -> str:
    return moment.strftime("%d/%b/%Y:%H:%M:%S %z")


def _check(hit: dict, ip, moment, method, path, status, size, referrer, agent,
           absent_agent: str | None = None) -> None:
    """`absent_agent`: what a line without user agent carries (CLF writes "-": a client
    that sent none, kept so that it counts as a bot; JSON formats leave the field out)."""
    assert hit["ip"] == ip
    assert hit["ts"] == moment.astimezone(UTC)
    assert (hit["method"], hit["url"], hit["status"]) == (method, path, status)
    assert hit["bytes"] == size
    assert hit["referrer"] == referrer
    assert hit["user_agent"] == (agent if agent is not None else absent_agent)


@settings(max_examples=50, deadline=None)
@given(rows=st.lists(st.tuples(st.one_of(ipv4, ipv6), moments, methods, paths, statuses, sizes,
                          referrers, agents), min_size=1, max_size=20))
def test_combined_round_trip(rows, engine):
    lines = [
        f'{ip} - - [{_clf_time(m)}] "{me} {p} HTTP/1.1" {st_} '
        f'{"-" if sz is None else sz} "{ref or "-"}" "{ag or "-"}"'
        for ip, m, me, p, st_, sz, ref, ag in rows
    ]
    parsed = get_format("combined").parse(LineBatch(1, lines, []), engine)
    assert parsed.malformed == []
    hits = {h["line_no"]: h for h in parsed.hits.to_pylist()}
    for i, row in enumerate(rows, 1):
        _check(hits[i], *row, absent_agent="-")


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(st.tuples(hosts, ipv4, moments, methods, paths, statuses, sizes, referrers,
                          agents), min_size=1, max_size=20))
def test_vhost_combined_round_trip(rows, engine):
    lines = [
        f'{h} {ip} - - [{_clf_time(m)}] "{me} {p} HTTP/1.1" {st_} '
        f'{"-" if sz is None else sz} "{ref or "-"}" "{ag or "-"}"'
        for h, ip, m, me, p, st_, sz, ref, ag in rows
    ]
    parsed = get_format("vhost_combined").parse(LineBatch(1, lines, []), engine)
    assert parsed.malformed == []
    hits = {h["line_no"]: h for h in parsed.hits.to_pylist()}
    for i, (host, *rest) in enumerate(rows, 1):
        assert hits[i]["host"] == host
        _check(hits[i], *rest, absent_agent="-")


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(st.one_of(ipv4, ipv6), moments, methods, paths, statuses, sizes,
                          referrers, agents, hosts), min_size=1, max_size=20))
def test_nginx_json_round_trip(rows, engine):
    lines = [
        orjson.dumps({"ip": ip, "host": h, "method": me, "path": p, "status": str(st_),
                      "length": sz, "referrer": ref or "-", "user_agent": ag or "-",
                      "date": m.isoformat()}).decode()
        for ip, m, me, p, st_, sz, ref, ag, h in rows
    ]
    parsed = get_format("nginx_json").parse(LineBatch(1, lines, []), engine)
    assert parsed.malformed == []
    hits = {h["line_no"]: h for h in parsed.hits.to_pylist()}
    for i, (*row, host) in enumerate(rows, 1):
        _check(hits[i], *row)
        assert hits[i]["host"] == host


iis_agents = st.one_of(st.none(), st.from_regex(
    r"[A-Za-z][A-Za-z0-9/.;()]{0,20}( [A-Za-z0-9/.;()]{1,15}){0,4}", fullmatch=True))


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(ipv4, moments, methods, paths, statuses, sizes, referrers,
                               iis_agents), min_size=1, max_size=20))
def test_iis_round_trip(rows, engine):
    header = ("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username "
              "c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes "
              "time-taken")
    lines = [header]
    expected = []
    for ip, m, me, p, st_, sz, ref, ag in rows:
        stem, _, query = p.partition("?")
        utc_m = m.astimezone(UTC)
        agent = (ag or "-").replace(" ", "+")
        lines.append(f"{utc_m:%Y-%m-%d %H:%M:%S} 10.0.0.1 {me} {stem or '/'} {query or '-'} 443 "
                     f"- {ip} {agent} {ref or '-'} {st_} 0 0 {'-' if sz is None else sz} 15")
        url = (stem or "/") + (f"?{query}" if query else "")
        expected.append((ip, m, me, url, st_, sz, ref, ag))
    parsed = get_format("iis").parse(LineBatch(1, lines, []), engine)
    assert parsed.malformed == [] and parsed.skipped == {"header": 1}
    hits = {h["line_no"]: h for h in parsed.hits.to_pylist()}
    for i, row in enumerate(expected, 2):
        _check(hits[i], *row)
