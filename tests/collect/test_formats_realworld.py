"""Every real log under ../shared/data/realworld (or its local copy): the detected format,
every line accounted for, malformed lines only where the line really is broken, and field
values of chosen lines. All expectations were written by hand from reading the files."""

from __future__ import annotations

import bz2
import gzip
import json
import shutil

import pytest
from formats_helpers import FIXTURES, LOCAL_COPIES, REALWORLD, real_log, run_file, utc

from amtspuls.collect.logs.formats import detect, get_format
from amtspuls.collect.logs.reader import LineBatch, sample_lines

M = "matomo-log-analytics-fixtures/logs/"
MN = "matomo-log-analytics-fixtures/logs-newer-commits/"
FB = "elastic-beats-filebeat-fixtures/"
LN = "lnav-test-logs/"

CHROME17 = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/535.11 (KHTML, like Gecko) "
            "Chrome/17.0.963.56 Safari/535.11")
FIREFOX121 = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0"

# The NCSA fast path in regex.py (not this suite's code) takes the first token of the
# prefix as the client, without checking the line's shape, and does not yet choose the
# client from an X-Forwarded-For chain as the other formats do; see the report to the lead.

# (file, detected format, lines, malformed line numbers, skipped reasons)
FILES = [
    (M + "alb.log", "alb", 1, [], {}),
    (M + "amazon_cloudfront_rtmp.log", "cloudfront_rtmp", 4, [],
     {"header": 2, "rtmp_event": 1}),
    (M + "amazon_cloudfront_web.log", "cloudfront_web", 3, [], {"header": 2}),
    (M + "caddy_json.log", "caddy_json", 3, [], {}),
    (M + "common.log", "common", 1, [], {}),
    (M + "common.log.bz2", "common", 1, [], {}),
    (M + "common.log.gz", "common", 1, [], {}),
    (M + "common_complete.log", "vhost_combined", 1, [], {}),
    (M + "common_encoding_big5.log", "vhost_combined", 1, [], {}),
    (M + "common_vhost.log", "vhost_common", 1, [], {}),
    # line 2 is a comment the fixture's author wrote, not an ELB line; line 3 a TCP connection
    (M + "elb.log", "elb", 3, [2], {"no_request": 1}),
    (M + "gandi.log", "gandi", 2, [], {}),
    (M + "haproxy.log", "haproxy", 1, [], {}),
    (M + "icecast2.log", "icecast2", 1, [], {}),
    (M + "iis.log", "iis", 5, [], {"header": 4}),
    (M + "iis_custom.log", "iis", 10, [], {"header": 4, "blank": 3}),
    (M + "incapsula_w3c.log", "w3c", 6, [], {"header": 4}),
    # line 5 is a "# …" comment of the fixture's author inside a combined log
    (M + "logs_to_tests.log", "combined", 6, [5], {"blank": 1}),
    (M + "ncsa_extended.log", "combined", 1, [], {}),
    (M + "netscaler.log", "w3c", 5, [], {"header": 4}),
    (M + "nginx_json.log", "nginx_json", 2, [], {}),
    (M + "ovh.log", "ovh", 1, [], {}),
    (M + "s3.log", "s3", 1, [], {}),
    (M + "shoutcast.log", "w3c", 4, [], {"header": 3}),
    (M + "splitted_date_and_time.log", "w3c", 2, [], {"header": 1}),
    (M + "static_ignores.log", "vhost_combined", 4, [], {}),
    (M + "traefik_json.log", "traefik_json", 1, [], {}),
    (MN + "bunny.log", "bunny", 1, [], {}),
    (MN + "traefik.log", "traefik_clf", 1, [], {}),
    (FB + "apache/darwin-2.4.23.log", "common", 6, [], {}),
    (FB + "apache/ssl-request.log", "apache_ssl_request", 2, [], {}),
    (FB + "apache/test-vhost.log", "vhost_combined", 1, [], {}),
    # line 7 is a vhost_combined line appended to a combined fixture
    pytest.param(FB + "apache/test.log", "combined", 7, [7], {}),
    (FB + "iis/test-x-forward-for.log", "iis", 9, [], {}),
    (FB + "iis/test.log", "iis", 17, [], {"header": 12}),
    # line 13 is a vhost_combined line appended to a combined fixture
    pytest.param(FB + "nginx/access.log", "combined", 13, [13], {}),
    (FB + "nginx/test-with-host.log", "vhost_combined", 10, [], {}),
    (FB + "nginx/test.log", "combined", 7, [], {}),
    (FB + "traefik/test.log", "traefik_clf", 2, [], {}),
    ("elastic-examples-apache-logs/apache_logs.log", "combined", 10000, [], {}),
    (LN + "logfile_access_log.0", "combined", 3, [], {}),
    (LN + "logfile_access_log.1", "combined", 1, [], {}),
    # line 2 lacks the ident and user fields: lnav's example of a broken line
    pytest.param(LN + "logfile_bad_access_log.0", "combined", 3, [2], {}),
    (LN + "logfile_caddy_log.0", "caddy_json", 39, [], {"non_access": 35}),
    (LN + "logfile_caddy_log.1", "caddy_json", 4, [], {}),
    (LN + "logfile_haproxy.0", "haproxy", 17, [], {"haproxy_event": 4}),
    (LN + "logfile_regexp_access_log.0", "vhost_combined_duration", 2, [], {}),
    (LN + "logfile_shop_access_log.0", "combined", 1000, [], {}),
    (LN + "logfile_syslog_with_access_log.0", "syslog_wrapped", 5, [],
     {"non_access": 2, "syslog": 1}),
    (LN + "logfile_w3c.0", "iis", 5, [], {"header": 4}),
    (LN + "logfile_w3c.1", "w3c", 7, [], {"header": 6}),
    (LN + "logfile_w3c.2", "iis", 22, [], {"header": 8, "ftp": 14}),
    (LN + "logfile_w3c.3", "iis", 10, [], {"header": 4, "blank": 3}),
    (LN + "logfile_w3c.4", "w3c", 6, [], {"header": 4}),
    (LN + "logfile_w3c.5", "iis", 2, [], {"header": 1}),
    (LN + "logfile_w3c.6", "iis", 5, [], {"header": 4}),
    (LN + "logfile_w3c_big.0", "iis", 254, [], {"header": 44}),
    ("goaccess-formats/ci_vcombined_sample.log", "vhost_combined", 4, [], {}),
]


@pytest.mark.parametrize(("rel", "expected", "lines", "malformed", "skipped"), FILES)
def test_real_file_detected_and_accounted(rel, expected, lines, malformed, skipped, engine):
    result = run_file(real_log(rel), engine)
    assert result.name == expected
    assert result.lines == lines
    assert result.malformed == malformed
    assert result.skipped == skipped
    assert len(result.hits) + len(result.malformed) + sum(result.skipped.values()) == lines


def test_every_real_access_log_is_in_the_table():
    """A log added to ../shared must get an expectation here."""
    if not REALWORLD.is_dir():
        pytest.skip("../shared is absent")
    listed = {p.values[0] if hasattr(p, "values") else p[0] for p in FILES}
    found = set()
    for folder in ("matomo-log-analytics-fixtures/logs",
                   "matomo-log-analytics-fixtures/logs-newer-commits",
                   "elastic-beats-filebeat-fixtures", "elastic-examples-apache-logs",
                   "lnav-test-logs", "goaccess-formats"):
        for path in (REALWORLD / folder).rglob("*"):
            if path.is_file() and (path.suffix in (".log", ".gz", ".bz2")
                                   or path.name.startswith("logfile")):
                found.add(str(path.relative_to(REALWORLD)))
    # A format only a city's own declaration can read (tested below).
    found.discard(M + "custom_regex_custom_date.log")
    assert found == listed


# Field values of chosen lines: line number → expected subset of the hit.
FIELDS: dict[str, dict[int, dict]] = {
    M + "alb.log": {1: dict(
        ts=utc("2020-01-01T00:55:04.127531"), ip="1.2.3.4", method="GET",
        host="www.example.com", url="/path/index.html", status=200, bytes=24950,
        user_agent=CHROME17)},
    M + "amazon_cloudfront_rtmp.log": {4: dict(
        ts=utc("2010-03-12T23:51:21"), ip="192.0.2.222", method=None,
        host="shqshne4jdp4b6.cloudfront.net", url="/cfx/st/myvideo?p=2&q=4", bytes=3914,
        status=None, user_agent="LNX 10,0,32,18",
        referrer="http://player.longtailvideo.com/player.swf")},
    M + "amazon_cloudfront_web.log": {3: dict(
        ts=utc("2014-05-23T01:13:11"), ip="192.0.2.10", method="GET", host="example.com",
        url="/view/my/file.html", status=200, bytes=182, referrer="https://example.com/",
        user_agent="Mozilla/5.0 (Windows; U; Windows NT 6.1; de-DE) AppleWebKit/534.17 "
                   "(KHTML, like Gecko) Chrome/10.0.649.0 Safari/534.17")},
    M + "caddy_json.log": {
        1: dict(ip="1.2.3.4", host="example.com", method="GET", url="/beta/", status=200,
                bytes=3609, user_agent=FIREFOX121, referrer=None),
        2: dict(url="/beta/assets/index-mMaLXldj.css", bytes=34534,
                referrer="https://example.com/beta/")},
    M + "common.log": {1: dict(
        ts=utc("2012-02-10T21:42:07"), ip="1.2.3.4", method="GET", url="/", status=301,
        bytes=368, user_agent=None, referrer=None, host=None)},
    M + "common.log.gz": {1: dict(
        ts=utc("2012-02-10T23:42:07"), ip="1.2.3.5", method="POST", url="/form", status=200,
        bytes=145)},
    M + "common.log.bz2": {1: dict(
        ts=utc("2012-02-19T23:42:07"), ip="1.2.3.7", method="POST", url="/", status=200,
        bytes=444)},
    M + "common_complete.log": {1: dict(
        host="www.example.com", ip="1.2.3.4", ts=utc("2012-02-10T21:42:07"), status=301,
        referrer=None, user_agent=CHROME17)},
    M + "common_vhost.log": {1: dict(host="www.example.com", ip="1.2.3.4", bytes=368)},
    M + "elb.log": {1: dict(
        ts=utc("2015-05-13T23:39:43.945958"), ip="1.2.3.4", method="GET",
        host="www.example.com", url="/path/index.html", status=200, bytes=57,
        user_agent=CHROME17)},
    M + "gandi.log": {
        1: dict(host="www.example.com", ip="1.2.3.4", ts=utc("2012-02-10T21:42:07"),
                method="GET", url="/", status=301, bytes=368, user_agent=CHROME17),
        2: dict(ip="125.125.125.125", status=200, bytes=1124,
                referrer="https://www.example.com/")},
    M + "haproxy.log": {1: dict(
        ip="4.3.2.1", ts=utc("2018-09-25T06:05:27.584"), method="POST", url="/user/",
        status=200, bytes=7456)},
    M + "icecast2.log": {1: dict(ip="1.2.3.4", status=301, bytes=368, user_agent=CHROME17)},
    M + "iis.log": {5: dict(
        ts=utc("2012-04-01T00:00:13"), ip="1.2.3.4", method="GET",
        url="/foo/bar?topCat1=divinity&submit=Search", host="example.com", status=200,
        bytes=27028, referrer=None,
        user_agent="Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.9.2.7) Gecko/20100722 "
                   "Firefox/3.6.7")},
    M + "iis_custom.log": {
        8: dict(ts=utc("2012-08-15T17:00:00.363"), ip="70.95.0.0", method="GET",
                url="/Products/theProduct", host="xzy.example.com", status=200, bytes=None,
                referrer="http://example.com/Search/SearchResults.pg?"
                         "informationRecipient.languageCode.c=en"),
        9: dict(ip=None, status=301, host="example.hello.com"),
        10: dict(ip="173.5.0.0", url="/hello/world/6,681965", status=404)},
    M + "incapsula_w3c.log": {
        5: dict(ts=utc("2017-06-28T07:26:35"), ip="123.123.123.123", method="GET",
                host="www.example.com", url="/page.php?variable=test", status=200,
                referrer=None,
                user_agent="Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 "
                           "(KHTML, like Gecko) Chrome/58.0.3029.110 Safari/537.36"),
        6: dict(ts=utc("2017-06-26T18:21:17"), ip="125.125.125.125", url="/rss/news",
                status=None)},
    M + "logs_to_tests.log": {
        1: dict(ip="203.38.78.246", ts=utc("2013-02-05T07:01:26"), method="GET", status=200,
                bytes=192, referrer="http://clearcode.cc/"),
        6: dict(ip="95.81.66.139", ts=utc("2013-10-28T23:48:46"), method="HEAD", url="/",
                status=403, bytes=None, user_agent="-", referrer=None)},
    M + "netscaler.log": {5: dict(
        ts=utc("2012-08-16T11:55:13"), ip="172.20.1.0", method="GET",
        url="/Citrix/XenApp/Wan/auth/login.jsp", status=302, bytes=355,
        user_agent="Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1; Trident/4.0; .NET CLR "
                   "1.1.4322; .NET CLR 2.0.50727; .NET CLR 3.0.04506.648; .NET CLR 3.5.21022)")},
    M + "nginx_json.log": {1: dict(
        ts=utc("2013-10-10T14:52:00"), ip="1.2.3.4", host="www.piwik.org", method=None,
        status=200, bytes=192, referrer="http://clearcode.cc/",
        user_agent="Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.17 (KHTML, like "
                   "Gecko) Chrome/24.0.1312.57 Safari/537.17")},
    M + "ovh.log": {1: dict(
        ip="1.2.3.4", host="www.example.com", ts=utc("2012-02-10T21:42:07"), method="GET",
        url="/", status=301, bytes=368, user_agent=CHROME17)},
    M + "s3.log": {1: dict(
        host="www.example.com", ts=utc("2012-02-10T21:42:07"), ip="1.2.3.4", method="GET",
        url="/index", status=200, bytes=368, referrer=None, user_agent=CHROME17)},
    M + "shoutcast.log": {4: dict(
        ip="1.2.3.4", ts=utc("2015-12-07T10:37:05"), url="/stream?title=UKR%20Nights",
        status=200, bytes=65580, user_agent="NSPlayer/10.0.0.3702 WMFSDK/10.0")},
    M + "splitted_date_and_time.log": {2: dict(
        ip="1.2.3.4", ts=utc("2015-12-07T10:37:05"), url="/stream?title=UKR%20Nights",
        status=200, bytes=65580, user_agent="NSPlayer/10.0.0.3702 WMFSDK/10.0")},
    M + "static_ignores.log": {
        1: dict(ts=utc("2012-02-10T21:41:07"), ip="1.2.3.4"),
        2: dict(ts=utc("2012-02-10T21:42:07"), ip="2.2.3.4", url="/robots.txt")},
    M + "traefik_json.log": {1: dict(
        ts=utc("2023-08-11T11:39:21.773360"), ip="1.2.3.4", host="localhost", method="GET",
        url="/my/app/auth?id=1234&user=dude", status=200, bytes=15,
        user_agent="Prometheus/2.40.5", referrer="www.example.com")},
    MN + "bunny.log": {1: dict(
        ts=utc("2025-03-15T21:57:04.321"), ip="1.2.3.4", host="www.example.org",
        url="/path?query=string", method=None, status=200, bytes=128479,
        referrer="https://example.com", user_agent=FIREFOX121)},
    MN + "traefik.log": {1: dict(
        ip="1.2.3.4", ts=utc("2012-02-10T21:42:07"), method="POST", url="/", status=301,
        bytes=368, user_agent=CHROME17)},
    FB + "apache/darwin-2.4.23.log": {
        1: dict(ip="::1", ts=utc("2016-12-26T14:16:28"), url="/", status=200, bytes=45),
        3: dict(ip="::1", method=None, url=None, status=408, bytes=None)},
    FB + "apache/ssl-request.log": {
        1: dict(ts=utc("2018-08-10T07:45:56"), ip="172.30.0.119", method="GET", status=None,
                bytes=1375),
        2: dict(ts=utc("2019-10-16T09:53:47"), ip="81.2.69.143", bytes=None)},
    FB + "apache/test-vhost.log": {1: dict(
        host="vhost1.domaine.fr", ip="123.123.123.123", ts=utc("2019-07-04T07:20:46"),
        status=200, bytes=32953,
        user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/75.0.  3770.100 Safari/537.36")},
    FB + "apache/test.log": {
        2: dict(ip="192.168.33.1", ts=utc("2016-12-26T16:22:13"), url="/hello", status=404,
                bytes=499, referrer=None),
        5: dict(ip="monitoring-server", url="/status", status=200)},
    FB + "iis/test-x-forward-for.log": {
        1: dict(ts=utc("2020-10-07T23:00:17"), ip="192.168.198.23", method="POST",
                url="/Production-UI/api/finance/legacy/GeneralLedger/LoadBatchTotals",
                status=200, bytes=None,
                referrer="https://onesolfarm.ggcity.org/Production-UI/ui/uiscreens/"
                         "generalledger/GLJEUB"),
        4: dict(method="GET",
                url="/Production-UI/data/finance/legacy/GLAPAprvMaster?$filter=BatchId%20eq%20"
                    "%27FY21HSNG0820%27&$orderby=Subsys,Ref&$skip=0&$top=20")},
    FB + "iis/test.log": {
        5: dict(ts=utc("2018-01-01T08:09:10"), ip="81.2.69.143", method="GET", url="/?q=100",
                status=200, bytes=None,
                user_agent="Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:57.0) "
                           "Gecko/20100101 Firefox/57.0"),
        10: dict(ts=utc("2018-01-01T09:10:11"), ip="127.0.0.1", host="example.com",
                 status=200, bytes=123),
        15: dict(ts=utc("2018-01-01T10:11:12"), ip="81.2.69.143", host="example.com"),
        16: dict(ts=utc("2018-12-31T12:52:33"), ip="10.50.6.188", status=401,
                 user_agent="Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0)"),
        17: dict(status=404, url="/${#context['xwork.MethodAccessor.denyMethodExecution']=!"
                 "(#_memberAccess['allowStaticMethodAccess']=true),(@java.lang.Runtime@getRunt"
                 "ime()).exec('ipconfig').waitFor()}.action")},
    FB + "nginx/access.log": {
        1: dict(ip="77.179.66.156", ts=utc("2016-10-25T12:49:33"), url="/", status=200,
                bytes=612, referrer=None),
        2: dict(referrer="http://localhost:8080/", status=404),
        10: dict(ip="127.0.0.1", ts=utc("2016-12-07T10:04:58"), status=304, bytes=0)},
    FB + "nginx/test-with-host.log": {
        1: dict(host="example.com", ip="10.0.0.2"),
        4: dict(host="example.com:80", ip="81.2.69.143"),
        6: dict(host="1.128.3.4", ip="2a02:cf40:10ff:f00f:0000:0000:0:8000", status=404),
        7: dict(host="1.128.3.4:80", ip="127.0.0.1", method=None, url=None, status=400,
                bytes=0),
        9: dict(host="1.128.3.4", ip="localhost", url="/test2"),
        10: dict(host="example.com", ip="localhost")},
    FB + "traefik/test.log": {
        1: dict(ip="192.168.33.1", ts=utc("2017-10-02T20:22:07"),
                url="/ui/favicons/favicon-16x16.png", status=304, bytes=0,
                referrer="http://example.com/login"),
        2: dict(ip="85.181.35.98", url="/ui/favicons/favicon.ico")},
    "elastic-examples-apache-logs/apache_logs.log": {
        1: dict(ip="83.149.9.216", ts=utc("2015-05-17T10:05:03"), method="GET",
                url="/presentations/logstash-monitorama-2013/images/kibana-search.png",
                status=200, bytes=203023),
        # the truncated line: the user agent's closing quote is missing
        8899: dict(ip="46.118.127.106", url="/scripts/grok-py-test/configlib.py",
                   user_agent="Mozilla/5.0 (compatible; Googlebot/2.1; "
                              "+http://www.google.com/bot.html")},
    LN + "logfile_access_log.0": {1: dict(
        ip="192.168.202.254", ts=utc("2009-07-20T22:59:26"), url="/vmw/cgi/tramp",
        status=200, bytes=134, user_agent="gPXE/0.9.7")},
    LN + "logfile_access_log.1": {1: dict(
        ip="10.112.81.15", ts=utc("2013-02-15T06:00:31"), method=None, status=400, bytes=0)},
    LN + "logfile_caddy_log.0": {
        16: dict(ts=utc("2025-10-21T04:10:28.615395"), ip="172.19.0.1", host="localhost",
                 method="GET", url="/", status=304, bytes=0),
        39: dict(status=200, bytes=188)},
    LN + "logfile_caddy_log.1": {
        1: dict(ts=utc("2024-05-26T11:42:52.601481"), ip="10.10.10.117",
                host="mirrors.tnonline.net:400", status=200, bytes=3768,
                user_agent="facebookexternalhit/1.1 (+http://www.facebook.com/"
                           "externalhit_uatext.php)"),
        4: dict(ts=utc("2024-05-26T14:16:03.414651"), ip="240e:1:1::1234",
                url="/res/browse.css",
                referrer="https://mirrors.tnonline.net/gentoo/gentoo-portage/app-dicts/"
                         "aspell-lt/")},
    LN + "logfile_haproxy.0": {4: dict(
        ip="141.35.244.171", ts=utc("2019-02-25T16:19:48.143"), method="GET",
        url="/admin/colt/administration?survey=130&input_stats=1&ajax=1&&ajax=1&refresh=1"
            "&ihandle=1",
        status=200, bytes=11394,
        user_agent="Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:65.0) Gecko/20100101 "
                   "Firefox/65.0")},
    LN + "logfile_regexp_access_log.0": {1: dict(
        host="localhost:443", ip="178.20.184.42", ts=utc("2023-07-26T07:01:26"),
        method="GET", status=200, bytes=17163, user_agent="Mozilla/5.0")},
    LN + "logfile_shop_access_log.0": {1: dict(
        ip="54.36.149.41", ts=utc("2019-01-22T00:26:14"), method="GET", status=200,
        bytes=30577, user_agent="Mozilla/5.0 (compatible; AhrefsBot/6.1; "
                                "+http://ahrefs.com/robot/)")},
    LN + "logfile_w3c.0": {5: dict(
        ts=utc("2002-05-02T17:42:15"), ip="172.22.255.255", url="/images/picture.jpg",
        status=200, user_agent="Mozilla/4.0 (compatible;MSIE 5.5; Windows 2000 Server)")},
    LN + "logfile_w3c.1": {7: dict(
        ip="64.103.37.2", ts=utc("2001-10-31T00:00:18"), method="GET",
        url="/admin/images/oc_bottomleft.gif", status=200, bytes=350,
        referrer="http://www.oracle.com/nl/partner/content.html",
        user_agent="Mozilla/4.5 [en] (WinNT; I)")},
    LN + "logfile_w3c.5": {2: dict(
        ts=utc("2015-01-13T00:32:17"), ip="157.55.39.146", url="/robots.txt", status=404,
        bytes=1405,
        user_agent="Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)")},
    "goaccess-formats/ci_vcombined_sample.log": {
        2: dict(host="google.com:80", ip="::1", method="OPTIONS", url="*", status=200,
                bytes=136, user_agent="Apache (internal dummy connection)"),
        3: dict(ip="142.250.190.142", method=None, status=408, bytes=0, user_agent="-")},
}


@pytest.mark.parametrize("rel", sorted(FIELDS))
def test_real_file_field_values(rel, engine):
    result = run_file(real_log(rel), engine)
    for line_no, expected in FIELDS[rel].items():
        assert line_no in result.hits, f"line {line_no} is not a hit"
        hit = result.hits[line_no]
        assert {k: hit[k] for k in expected} == expected, f"line {line_no}"


# Lines whose client needs the regex.py change (chain choice, quotes, `unix:`).
CHAIN_FIELDS = {
    FB + "nginx/test-with-host.log": {
        3: dict(ip="81.2.69.143"),  # "10.0.0.2, 10.0.0.1, 81.2.69.143": first public
        5: dict(ip="175.16.199.1"),  # quoted chain then the proxy's address
        8: dict(ip=None, status=400, bytes=173),  # unix: socket
    },
}


def test_client_from_chain_in_regex_formats(engine):
    for rel, lines in CHAIN_FIELDS.items():
        result = run_file(real_log(rel), engine)
        for line_no, expected in lines.items():
            hit = result.hits[line_no]
            assert {k: hit[k] for k in expected} == expected


def _filebeat_expected() -> list[dict]:
    path = real_log(FB + "nginx/test.log-expected.json")
    return json.loads(path.read_text("utf-8"))


def test_nginx_against_filebeat_expected(engine):
    """Filebeat's expected parse of the same file: times, request, status, bytes, agent."""
    path = real_log(FB + "nginx/test.log")
    raw = path.read_bytes()
    offsets = [0] + [i + 1 for i, b in enumerate(raw) if b == 0x0A][:-1]
    result = run_file(path, engine)
    for doc in _filebeat_expected():
        line_no = offsets.index(doc["log.offset"]) + 1
        hit = result.hits[line_no]
        assert hit["ts"] == utc(doc["@timestamp"].rstrip("Z"))
        assert hit["method"] == doc.get("http.request.method")
        assert hit["url"] == doc.get("url.original")
        assert hit["status"] == doc["http.response.status_code"]
        assert hit["bytes"] == doc["http.response.body.bytes"]
        agent = doc["user_agent.original"]
        assert hit["user_agent"] == agent  # "-" is kept: a client that sent none (a bot)


def test_nginx_client_against_filebeat_expected(engine):
    """Filebeat picks the first public address of the chain (else the first): so do we."""
    path = real_log(FB + "nginx/test.log")
    raw = path.read_bytes()
    offsets = [0] + [i + 1 for i, b in enumerate(raw) if b == 0x0A][:-1]
    result = run_file(path, engine)
    for doc in _filebeat_expected():
        line_no = offsets.index(doc["log.offset"]) + 1
        assert result.hits[line_no]["ip"] == doc["source.ip"], f"line {line_no}"


def test_big5_bytes_survive_as_replacement_characters(engine):
    result = run_file(real_log(M + "common_encoding_big5.log"), engine)
    url = result.hits[1]["url"]
    assert url.startswith("/") and "\ufffd" in url and result.hits[1]["status"] == 301


def test_apache_logs_distribution(engine):
    """Counts of the 10,000-line Apache log (statuses, distinct clients). The README says
    9,125 lines of status 200; counting the status column with awk gives 9,126."""
    result = run_file(real_log("elastic-examples-apache-logs/apache_logs.log"), engine)
    statuses: dict[int, int] = {}
    for hit in result.hits.values():
        statuses[hit["status"]] = statuses.get(hit["status"], 0) + 1
    assert statuses == {200: 9126, 304: 445, 404: 213, 301: 164, 206: 45, 500: 3, 403: 2,
                        416: 2}
    assert len({hit["ip"] for hit in result.hits.values()}) == 1753
    times = [hit["ts"] for hit in result.hits.values()]
    assert min(times) == utc("2015-05-17T10:05:00")
    assert max(times) == utc("2015-05-20T21:05:59")


def test_syslog_wrapped_lines_take_the_syslog_time(engine):
    fmt = get_format("syslog_wrapped")
    fmt.year = 2015  # BSD syslog time stamps have no year
    result = run_file(real_log(LN + "logfile_syslog_with_access_log.0"), engine, fmt)
    assert sorted(result.hits) == [2, 3]
    assert {k: result.hits[2][k] for k in ("ts", "ip", "method", "url", "status", "bytes")} == {
        "ts": utc("2015-03-24T14:02:50"), "ip": "127.0.0.1", "method": "GET",
        "url": "/includes/js/combined-javascript.js", "status": 200, "bytes": 65508}
    assert result.hits[3]["url"] == "/bad.foo" and result.hits[3]["status"] == 404


def test_ftp_lines_of_an_iis4_log_are_skipped(engine):
    result = run_file(real_log(LN + "logfile_w3c.2"), engine)
    assert result.hits == {} and result.skipped == {"header": 8, "ftp": 14}


def test_custom_format_declared_by_a_city(tmp_path, engine):
    """custom_regex_custom_date.log has a date no built-in format reads; a city declares one."""
    path = real_log(M + "custom_regex_custom_date.log")
    assert detect(sample_lines(path)) is None
    extra = tmp_path / "log_formats.toml"
    extra.write_text(
        "[[format]]\n"
        'name = "wordy_date"\n'
        r"regex = '^(\S+) \S+ \S+ \[([^\]]+)\] \"([^\"]*)\" (\d{3}) (\d+|-)'" "\n"
        'fields = ["ip", "ts", "request", "status", "bytes"]\n'
        'ts_format = "%B - %d, %Y:%H:%M:%S"\n', "utf-8")
    fmt = detect(sample_lines(path), extra)
    assert fmt is not None and fmt.name == "wordy_date"
    result = run_file(path, engine, fmt)
    assert result.hits[1]["ts"] == utc("2012-02-10T16:42:07")
    assert result.hits[1]["ip"] == "1.2.3.4" and result.hits[1]["status"] == 301


@pytest.mark.parametrize("rel", [FB + "iis/test.log", LN + "logfile_w3c_big.0",
                                 M + "iis_custom.log", LN + "logfile_caddy_log.0"])
def test_small_batches_give_the_same_result(rel, engine):
    """Header state (W3C #Fields) carries over from one batch to the next."""
    path = real_log(rel)
    whole = run_file(path, engine)
    pieces = run_file(path, engine, batch_lines=3)
    assert pieces.hits == whole.hits
    assert pieces.malformed == whole.malformed and pieces.skipped == whole.skipped


def test_w3c_replay_restores_the_header_when_resuming(engine):
    """Resuming after line 40 of a file with changing headers: the skipped lines are
    replayed (not parsed) so that the current #Fields is known."""
    path = real_log(LN + "logfile_w3c_big.0")
    lines = path.read_text("utf-8").splitlines()
    whole = run_file(path, engine)
    fmt = get_format("w3c")
    fmt.replay(lines[:40])
    parsed = fmt.parse(LineBatch(41, lines[40:]), engine)
    rows = {r["line_no"]: r for r in parsed.hits.to_pylist()}
    assert rows == {n: h for n, h in whole.hits.items() if n > 40}


def test_compressed_copies_read_like_the_plain_file(tmp_path, engine):
    """The same log, plain, gzip and bzip2 (compression is found by magic number)."""
    src = real_log(FB + "nginx/access.log")
    plain = tmp_path / "access.log"
    shutil.copy(src, plain)
    (tmp_path / "a.gz").write_bytes(gzip.compress(plain.read_bytes()))
    (tmp_path / "b.bz2").write_bytes(bz2.compress(plain.read_bytes()))
    (tmp_path / "c.log").write_bytes(gzip.compress(plain.read_bytes()))  # misleading name
    base = run_file(plain, engine)
    for name in ("a.gz", "b.bz2", "c.log"):
        other = run_file(tmp_path / name, engine)
        assert other.name == base.name
        assert other.hits == base.hits and other.malformed == base.malformed


def test_local_fixture_copies_match_shared(engine):
    """The copies in tests/fixtures/logs are byte-identical to ../shared."""
    if not REALWORLD.is_dir():
        pytest.skip("../shared is absent")
    for top, local in LOCAL_COPIES.items():
        for path in (FIXTURES / local).rglob("*"):
            if path.is_file() and not path.name.startswith(("LICENSE", "COPYING")):
                assert path.read_bytes() == (REALWORLD / top / path.relative_to(
                    FIXTURES / local)).read_bytes(), path
