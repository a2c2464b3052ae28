"""Log formats on hand-written lines: field helpers, each structured format's edge cases,
detection between close formats, and the contract (too-long and blank lines, never raise)."""

from __future__ import annotations

import time
from datetime import UTC
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pytest
from formats_helpers import utc

from amtspuls.collect.logs.formats import detect, get_format, registry
from amtspuls.collect.logs.formats.fields import (
    clf_us,
    client_ip,
    client_ip_sql,
    decode_agent,
    epoch_number_us,
    iso_us,
    split_request,
    split_url,
)
from amtspuls.collect.logs.reader import LineBatch
from amtspuls.model import HIT_SCHEMA

REQUIRED = ["common", "combined", "vhost_combined", "vhost_common", "nginx_json", "caddy_json",
            "traefik_json", "traefik_clf", "w3c", "iis", "cloudfront_web", "elb", "alb", "s3",
            "haproxy", "gandi", "ovh", "icecast2", "bunny", "apache_ssl_request",
            "syslog_wrapped"]


def parse(name_or_fmt, lines: list[str], engine, first: int = 1, too_long=()):
    fmt = get_format(name_or_fmt) if isinstance(name_or_fmt, str) else name_or_fmt
    result = fmt.parse(LineBatch(first, lines, list(too_long)), engine)
    assert result.hits.schema == HIT_SCHEMA
    rows = {r["line_no"]: r for r in result.hits.to_pylist()}
    return rows, result.malformed, result.skipped


def us(text: str) -> int:
    dt = utc(text)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


# --- helpers ------------------------------------------------------------------------------

@pytest.mark.parametrize(("chain", "client"), [
    ("1.2.3.4", "1.2.3.4"),
    ("-", None),
    ("unix:", None),
    ("unknown, 8.8.8.8", "8.8.8.8"),
    ("10.0.0.2, 10.0.0.1, 85.181.35.98", "85.181.35.98"),  # first public
    ("10.0.0.2, 10.0.0.1, 127.0.0.1", "10.0.0.2"),  # none public: the first
    ('"10.5.102.222, 199.96.1.1, 204.246.1.1" 10.2.1.185', "199.96.1.1"),
    ("2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17 10.2.2.121",
     "2a03:0000:10ff:f00f:0000:0000:0:8000"),
    ("fd00::1, fe80::1, 2001:db8::7", "2001:db8::7"),
    ("100.64.0.1, 172.16.5.4, 172.32.0.1", "172.32.0.1"),  # CGNAT and 172.16/12 are private
    ("169.254.1.1,192.168.1.1", "169.254.1.1"),
    ("localhost, localhost", "localhost"),
    ("monitoring-server", "monitoring-server"),
    ("", None),
])
def test_client_ip_and_its_sql_twin(chain, client):
    assert client_ip(chain) == client
    con = duckdb.connect()
    con.register("t", pa.table({"c": pa.array([chain], pa.string())}))
    assert con.execute(f"SELECT {client_ip_sql('c')} FROM t").fetchone()[0] == client


def test_client_ip_takes_forwarded_for_before_the_peer():
    assert client_ip("203.0.113.7", "10.0.0.1") == "203.0.113.7"
    assert client_ip(None, "10.0.0.1") == "10.0.0.1"
    assert client_ip("-", "198.51.100.1") == "198.51.100.1"
    assert client_ip("192.168.1.5", "10.0.0.1") == "192.168.1.5"


@pytest.mark.parametrize(("raw", "decoded"), [
    ("Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"),
    ("Mozilla/5.0+(compatible;+bingbot/2.0;++http://www.bing.com/bingbot.htm)",
     "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"),
    ("NSPlayer%2F10.0.0.3702%20WMFSDK%2F10.0", "NSPlayer/10.0.0.3702 WMFSDK/10.0"),
    ("Mozilla/5.0%2520(X11;%2520Linux)", "Mozilla/5.0 (X11; Linux)"),
    ("curl/8.5.0", "curl/8.5.0"),
    ("Already spaced+kept", "Already spaced+kept"),
    ("-", None),
    ("", None),
])
def test_decode_agent(raw, decoded):
    assert decode_agent(raw) == decoded


def test_split_url_and_request():
    assert split_url("https://www.example.com:443/a/b?c=1") == ("www.example.com", "/a/b?c=1")
    assert split_url("http://example.com:8080") == ("example.com:8080", "/")
    assert split_url("/only/a/path?x") == (None, "/only/a/path?x")
    assert split_url("http://[2001:db8::1]:80/x") == ("[2001:db8::1]", "/x")
    assert split_url("http://[2001:db8::1]/x") == ("[2001:db8::1]", "/x")
    assert split_request("GET /x HTTP/1.1") == ("GET", "/x")
    assert split_request("OPTIONS * HTTP/1.0") == ("OPTIONS", "*")
    assert split_request("- - - ") == (None, None)
    assert split_request("hello") == (None, None)
    assert split_request("") == (None, None)


def test_time_forms():
    assert epoch_number_us(1703373474) == us("2023-12-23T23:17:54")
    assert epoch_number_us(1742075824321) == us("2025-03-15T21:57:04.321")  # ms
    assert epoch_number_us(1742075824321000) == us("2025-03-15T21:57:04.321")  # µs
    assert epoch_number_us(1742075824321000000) == us("2025-03-15T21:57:04.321")  # ns
    assert epoch_number_us("1700000000.5") == us("2023-11-14T22:13:20.5")
    assert epoch_number_us("soon") is None
    assert iso_us("2013-10-10T16:52:00+02:00") == us("2013-10-10T14:52:00")
    assert iso_us("2023-08-11T11:39:21.773360139Z") == us("2023-08-11T11:39:21.773360")
    assert iso_us("2023-08-11T11:41:25") == us("2023-08-11T11:41:25")
    berlin = ZoneInfo("Europe/Berlin")
    assert iso_us("2023-08-11T11:41:25", berlin) == us("2023-08-11T09:41:25")
    assert clf_us("10/Feb/2012:16:42:07 -0500") == us("2012-02-10T21:42:07")
    assert clf_us("22/Jan/2019:03:56:14 +0330") == us("2019-01-22T00:26:14")
    assert clf_us("25/Sep/2018:06:05:27.584") == us("2018-09-25T06:05:27.584")
    assert clf_us("25/Jan/2018:06:05:27", berlin) == us("2018-01-25T05:05:27")
    assert clf_us("31/Feb/2018:06:05:27 +0000") is None
    assert clf_us("10/Foo/2012:16:42:07 -0500") is None


# --- registry and detection -----------------------------------------------------------------

def test_every_required_format_is_registered():
    names = set(registry())
    assert set(REQUIRED) <= names
    for name in names:
        fmt = get_format(name)
        assert fmt.name == name


@pytest.mark.parametrize(("lines", "expected"), [
    (['1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 200 5'], "common"),
    (['1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 200 5 "-" "curl/8"'],
     "combined"),
    # a file mixing both forms is combined (referrer and agent may be missing)
    (['1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 200 5',
      '1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 200 5 "-" "curl/8"'],
     "combined"),
    (['h.example 1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 200 5'],
     "vhost_common"),
    (['1.2.3.4 www.example.com u [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 200 5 "-" "x"'],
     "ovh"),
    (['1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 200 5 "-" "x" 17'],
     "icecast2"),
    (['{"ip":"1.2.3.4","path":"/","status":200,"date":"2024-01-01T00:00:00Z"}'], "nginx_json"),
    (["2020-10-07 23:00:17 192.168.16.11 GET /x - 443 - 192.168.7.63 curl/8 - 200 0 0 26"],
     "iis"),
    (["#Fields: date time c-ip cs-method cs-uri-stem sc-status",
      "2020-10-07 23:00:17 1.2.3.4 GET /x 200"], "w3c"),
])
def test_detection_between_close_formats(lines, expected):
    fmt = detect(lines)
    assert fmt is not None and fmt.name == expected


def test_generic_logs_are_not_mistaken_for_access_logs():
    syslog = ["Jan  3 09:47:02 host sudo: alice : TTY=pts/6 ; COMMAND=/bin/ls",
              "Jan  3 09:47:03 host cron[12]: (root) CMD (run-parts /etc/cron.hourly)"]
    assert detect(syslog) is None
    app_json = ['{"level":"info","msg":"started","time":"2024-01-01T00:00:00Z"}']
    assert detect(app_json) is None
    assert detect(["hello world", "just text"]) is None


# --- contract --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(set(REQUIRED) | {"cloudfront_rtmp",
                                                          "vhost_combined_duration"}))
def test_too_long_and_blank_lines(name, engine):
    lines = ["", "   ", "", "garbage that no format reads"]
    rows, malformed, skipped = parse(name, lines, engine, first=10, too_long=[12])
    assert rows == {}
    assert malformed == [12, 13]
    assert skipped == {"blank": 2}


def test_line_numbers_continue_across_batches(engine):
    line = '1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 200 5 "-" "x"'
    for name in ("combined", "syslog_wrapped"):
        fmt = get_format(name)
        rows, _, _ = parse(fmt, [line, "x", line], engine, first=1001)
        if name == "combined":
            assert sorted(rows) == [1001, 1003]


# --- JSON -----------------------------------------------------------------------------------

def test_nginx_json_with_nginx_variable_names(engine):
    lines = [
        '{"time_local":"10/Feb/2012:16:42:07 +0100","remote_addr":"10.1.1.1",'
        '"http_x_forwarded_for":"203.0.113.9, 10.1.1.1","request":"GET /a?b=1 HTTP/1.1",'
        '"status":404,"body_bytes_sent":"12","http_referer":"-","http_user_agent":"curl/8.0",'
        '"host":"www.example.de"}',
        '{"msec":"1700000000.250","remote_addr":"198.51.100.4","request_method":"POST",'
        '"uri":"/form","args":"x=1","status":"200","bytes_sent":0}',
        'web-1  | {"ip":"::1","path":"/p","status":"301","date":"2024-03-01T10:00:00+01:00"}',
        '{"level":"warn","message":"upstream slow"}',
        '{"ip": "1.2.3.4", "path": "/x"',  # cut off
        '["not", "an", "object"]',
        '{"ip":"1.2.3.4","path":"/x","status":200,"date":"yesterday"}',
    ]
    rows, malformed, skipped = parse("nginx_json", lines, engine)
    assert rows[1] | {} == rows[1]
    assert {k: rows[1][k] for k in ("ts", "ip", "host", "method", "url", "status", "bytes",
                                    "referrer", "user_agent")} == {
        "ts": utc("2012-02-10T15:42:07"), "ip": "203.0.113.9", "host": "www.example.de",
        "method": "GET", "url": "/a?b=1", "status": 404, "bytes": 12, "referrer": None,
        "user_agent": "curl/8.0"}
    assert rows[2]["ts"] == utc("2023-11-14T22:13:20.250")
    assert (rows[2]["method"], rows[2]["url"], rows[2]["bytes"]) == ("POST", "/form?x=1", 0)
    assert (rows[3]["ip"], rows[3]["ts"], rows[3]["status"]) == (
        "::1", utc("2024-03-01T09:00:00"), 301)
    assert skipped == {"non_access": 1}
    assert malformed == [5, 6, 7]


def test_caddy_older_and_iso_forms(engine):
    lines = [
        # Caddy before client_ip: the peer and X-Forwarded-For decide
        '{"level":"info","ts":"2021-05-01T10:00:00.5Z","logger":"http.log.access.log0",'
        '"msg":"handled request","request":{"remote_addr":"10.0.0.9:51234","proto":"HTTP/1.1",'
        '"method":"GET","host":"www.example.de","uri":"/a","headers":{"User-Agent":["curl/8"],'
        '"X-Forwarded-For":["203.0.113.5"]}},"status":200,"size":10}',
        # milliseconds since the epoch, lower-case header names
        '{"ts":1620000000000,"logger":"http.log.access","request":{"client_ip":"2001:db8::1",'
        '"method":"HEAD","host":"h","uri":"/","headers":{"user-agent":["x/1"],'
        '"referer":["https://r.example/"]}},"status":204,"size":0}',
        '{"level":"error","ts":1620000000.1,"logger":"tls","msg":"could not get certificate"}',
        '{"level":"info","ts":"not a time","logger":"http.log.access","request":{},"status":1}',
    ]
    rows, malformed, skipped = parse("caddy_json", lines, engine)
    assert (rows[1]["ts"], rows[1]["ip"], rows[1]["user_agent"]) == (
        utc("2021-05-01T10:00:00.5"), "203.0.113.5", "curl/8")
    assert (rows[2]["ts"], rows[2]["ip"], rows[2]["referrer"], rows[2]["user_agent"]) == (
        utc("2021-05-03T00:00:00"), "2001:db8::1", "https://r.example/", "x/1")
    assert skipped == {"non_access": 1}
    assert malformed == [4]


def test_caddy_sample_of_only_startup_messages_is_still_caddy():
    sample = ['{"level":"info","ts":1761019822.31,"msg":"using config from file",'
              '"file":"/etc/caddy/Caddyfile"}'] * 3
    fmt = detect(sample)
    assert fmt is not None and fmt.name == "caddy_json"


def test_traefik_json_variants(engine):
    lines = [
        '{"ClientHost":"10.0.0.1","RequestMethod":"GET","RequestPath":"/x","RequestHost":"h",'
        '"DownstreamStatus":503,"DownstreamContentSize":0,"StartLocal":'
        '"2023-08-11T13:39:21.5+02:00","request_X-Forwarded-For":"203.0.113.2"}',
        '{"level":"info","msg":"Configuration loaded from flags.","time":"2023-08-11T11:41:25Z"}',
    ]
    rows, malformed, skipped = parse("traefik_json", lines, engine)
    assert (rows[1]["ts"], rows[1]["ip"], rows[1]["status"], rows[1]["host"]) == (
        utc("2023-08-11T11:39:21.5"), "203.0.113.2", 503, "h")
    assert skipped == {"non_access": 1} and malformed == []


# --- W3C --------------------------------------------------------------------------------------

def test_w3c_header_changes_and_quirks(engine):
    lines = [
        "#Software: Microsoft Internet Information Services 10.0",
        "#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status cs(User-Agent)",
        "2024-01-02 03:04:05 203.0.113.1 GET /a x=1 200 Mozilla/5.0+(X11)",
        "2024-01-02 03:04:06 203.0.113.1 GET /b",  # fewer values than fields
        "#Fields: time c-ip cs-uri sc-status sc-bytes",  # no date column: from #Date
        "#Date: 2024-02-03 00:00:00",
        "10:11:12.5 198.51.100.7 https://www.example.de/c?d 404 99",
        'not a W3C line "at all',
    ]
    rows, malformed, skipped = parse("w3c", lines, engine)
    assert (rows[3]["ts"], rows[3]["ip"], rows[3]["url"], rows[3]["status"],
            rows[3]["user_agent"]) == (utc("2024-01-02T03:04:05"), "203.0.113.1", "/a?x=1",
                                       200, "Mozilla/5.0 (X11)")
    assert (rows[4]["url"], rows[4]["status"], rows[4]["user_agent"]) == ("/b", None, None)
    assert (rows[7]["ts"], rows[7]["host"], rows[7]["url"], rows[7]["bytes"]) == (
        utc("2024-02-03T10:11:12.5"), "www.example.de", "/c?d", 99)
    assert skipped == {"header": 4}
    assert malformed == [8]


def test_w3c_quoted_and_tab_separated_values(engine):
    lines = [
        '#Fields: date time c-ip cs-method cs-uri-stem cs(User-Agent) cs(Referer) sc-status',
        '"2024-01-02" "03:04:05" "203.0.113.1" "GET" "/a b" "Agent ""quoted"" 1.0" "" "200"',
        "#Fields: date time c-ip cs-method cs-uri-stem cs(User-Agent) cs(Referer) sc-status",
        "2024-01-02\t03:04:06\t203.0.113.2\tGET\t/c\tcurl/8%20x\thttps://r/\t301",
    ]
    rows, malformed, _ = parse("w3c", lines, engine)
    assert (rows[2]["url"], rows[2]["user_agent"], rows[2]["referrer"], rows[2]["status"]) == (
        "/a b", 'Agent "quoted" 1.0', None, 200)
    assert (rows[4]["ip"], rows[4]["user_agent"], rows[4]["referrer"]) == (
        "203.0.113.2", "curl/8 x", "https://r/")
    assert malformed == []


def test_iis_lines_before_any_header(engine):
    iis15 = ("2020-10-07 23:00:17 192.168.16.11 GET /x q=1 443 - 203.0.113.8 "
             "Mozilla/5.0+(Windows) https://r.example/ 200 0 0 26")
    rows, malformed, _ = parse("iis", [iis15, "2020-10-07 23:00:17 only three"], engine)
    assert (rows[1]["ip"], rows[1]["url"], rows[1]["status"], rows[1]["user_agent"],
            rows[1]["referrer"]) == ("203.0.113.8", "/x?q=1", 200, "Mozilla/5.0 (Windows)",
                                     "https://r.example/")
    assert malformed == [2]


def test_iis_local_time_columns_use_local_tz(engine):
    fmt = get_format("iis")
    fmt.local_tz = ZoneInfo("Europe/Berlin")
    lines = ["#Software: IIS Advanced Logging Module",
             "#Fields: date-local time-local c-ip cs-method cs-uri-stem sc-status",
             "2012-08-15 17:00:00.363 1.2.3.4 GET / 200",
             "2012-01-15 17:00:00 1.2.3.4 GET / 200"]
    rows, _, _ = parse(fmt, lines, engine)
    assert rows[3]["ts"] == utc("2012-08-15T15:00:00.363")  # CEST
    assert rows[4]["ts"] == utc("2012-01-15T16:00:00")  # CET
    utc_fmt = get_format("iis")
    assert utc_fmt.local_tz is UTC


# --- AWS, bunny -------------------------------------------------------------------------------

def test_elb_and_alb_edge_cases(engine):
    elb = [
        '2015-05-13T23:39:43.945958Z lb [2001:db8::5]:2817 10.0.0.1:80 0.1 0.1 0.1 404 404 0 '
        '57 "GET http://www.example.de:80/x?y HTTP/1.1" "curl/8" - -',
        '2015-05-13T23:39:43.945958Z lb 192.0.2.1:2817 - -1 -1 -1 504 0 0 0 '
        '"GET https://www.example.de:443/z HTTP/1.1" "-" - -',
    ]
    rows, malformed, _ = parse("elb", elb, engine)
    assert (rows[1]["ip"], rows[1]["host"], rows[1]["url"], rows[1]["status"]) == (
        "2001:db8::5", "www.example.de", "/x?y", 404)
    assert (rows[2]["status"], rows[2]["user_agent"]) == (504, None)
    alb = [
        'h2 2020-01-01T00:55:04.127531Z app/x/y 2001:db8::9:2817 10.0.0.1:80 0.001 0.1 0.0 '
        '301 301 225 0 "GET https://www.example.de:443/ HTTP/2.0" "x" - - arn "Root=1" '
        '"www.example.de" "-" 0 2020-01-01T00:55:04.0Z "redirect" "https://x/" "-" "-" "-"',
        'https 2020-01-01T00:55:04.127531Z app/x/y 1.2.3.4:1 - -1 -1 -1 400 - 0 0 "- - - " '
        '"-" - - - "-" "-" "-" - 2020-01-01T00:55:04.0Z "-" "-" "-" "-" "-"',
    ]
    rows, malformed, skipped = parse("alb", alb, engine)
    assert (rows[1]["ip"], rows[1]["url"], rows[1]["status"]) == ("2001:db8::9", "/", 301)
    assert skipped == {"no_request": 1} and malformed == []


def test_bunny_agent_with_pipes(engine):
    line = ("HIT|206|1742075824321|1024|77|203.0.113.4|-|https://cdn.example.de/v.mp4|DE|"
            "Odd|Agent/1.0|abcdef|DE")
    rows, malformed, _ = parse("bunny", [line, "MISS|200|x|1|2"], engine)
    assert (rows[1]["user_agent"], rows[1]["referrer"], rows[1]["host"], rows[1]["url"],
            rows[1]["status"], rows[1]["bytes"]) == (
        "Odd|Agent/1.0", None, "cdn.example.de", "/v.mp4", 206, 1024)
    assert malformed == [2]


# --- HAProxy, syslog --------------------------------------------------------------------------

def test_haproxy_forms(engine):
    lines = [
        # raw on stdout, captured headers Host|User-Agent|Referer
        '203.0.113.5:41000 [01/Mar/2024:10:00:00.120] fe be/srv 0/0/1/2/3 200 512 - - ---- '
        '1/1/0/0/0 0/0 {www.example.de|Mozilla/5.0 (X11)|https://r.example/} "GET /a HTTP/1.1"',
        # TCP mode: a connection, no request
        "Mar  1 10:00:01 lb haproxy[9]: 203.0.113.6:5000 [01/Mar/2024:10:00:01.000] tcp-in "
        "be/srv 0/0/15 1234 -- 1/1/0/0/0 0/0",
        # aborted: status -1, request cut off
        'Mar  1 10:00:02 lb haproxy[9]: 203.0.113.7:5001 [01/Mar/2024:10:00:02.000] fe be/<NOSRV> '
        '-1/-1/-1/-1/+5 -1 +0 - - CR-- 1/1/0/0/0 0/0 "<BADREQ>"',
        "Mar  1 10:00:03 lb kernel: eth0 link up",
        "Mar  1 10:00:04 lb haproxy[9]: Server be/srv is DOWN, reason: Layer4 timeout",
        "no syslog line",
    ]
    rows, malformed, skipped = parse("haproxy", lines, engine)
    assert {k: rows[1][k] for k in ("ts", "ip", "host", "user_agent", "referrer", "method",
                                    "url", "status", "bytes")} == {
        "ts": utc("2024-03-01T10:00:00.120"), "ip": "203.0.113.5", "host": "www.example.de",
        "user_agent": "Mozilla/5.0 (X11)", "referrer": "https://r.example/", "method": "GET",
        "url": "/a", "status": 200, "bytes": 512}
    assert (rows[3]["status"], rows[3]["method"], rows[3]["bytes"]) == (None, None, 0)
    assert skipped == {"no_request": 1, "other_program": 1, "haproxy_event": 1}
    assert malformed == [6]


def test_syslog_wrapped_variants(engine):
    fmt = get_format("syslog_wrapped")
    fmt.year = 2024
    lines = [
        # RFC 5424 with a combined line carrying its own time
        '<134>1 2024-03-01T10:00:00Z web nginx - - - 198.51.100.1 - - [01/Mar/2024:11:00:05 '
        '+0100] "GET /x HTTP/1.1" 200 5 "-" "curl/8"',
        # rsyslog ISO time stamp, nginx JSON inside
        '2024-03-01T10:00:06+00:00 web nginx: {"ip":"198.51.100.2","path":"/j","status":200,'
        '"date":"2024-03-01T10:00:06Z"}',
        "Mar  1 10:00:07 web nginx: 198.51.100.3 - - \"GET /y HTTP/1.1\" 404 0",
        "Mar  1 10:00:08 web sshd[1]: Accepted publickey for alice",
        "Mar  1 10:00:09 --- last message repeated 2 times ---",
        "not syslog",
    ]
    rows, malformed, skipped = parse(fmt, lines, engine)
    assert (rows[1]["ts"], rows[1]["ip"], rows[1]["url"]) == (
        utc("2024-03-01T10:00:05"), "198.51.100.1", "/x")
    assert (rows[2]["ts"], rows[2]["url"]) == (utc("2024-03-01T10:00:06"), "/j")
    assert (rows[3]["ts"], rows[3]["status"]) == (utc("2024-03-01T10:00:07"), 404)
    assert skipped == {"non_access": 1, "syslog": 1}
    assert malformed == [6]


def test_syslog_year_is_guessed_from_today():
    fmt = get_format("syslog_wrapped")
    stamp = fmt._bsd_us("Jan", "1", "00", "00", "00")
    assert stamp is not None and stamp > 1_600_000_000 * 1_000_000


# --- speed ------------------------------------------------------------------------------------

def test_json_parsing_is_fast_enough(engine):
    """≥ 100k lines/s is the target on a normal machine (see the report); the assertion
    is lenient so that a loaded CI machine does not fail it."""
    line = ('{"ip":"93.184.216.34","host":"www.musterstadt.de","path":"/buergerservice/'
            'leistungen/personalausweis?id=1","status":"200","referrer":"https://www.google.de/",'
            '"user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",'
            '"length":5321,"date":"2024-03-01T10:11:12+01:00"}')
    lines = [line] * 50_000
    fmt = get_format("nginx_json")
    start = time.perf_counter()
    rows = fmt.parse(LineBatch(1, lines), engine).hits.num_rows
    rate = len(lines) / (time.perf_counter() - start)
    assert rows == len(lines)
    assert rate > 25_000, rate
