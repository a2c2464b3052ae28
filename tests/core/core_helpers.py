"""Helpers for the core tests: running the CLI as a subprocess, locating the shared
real-world logs, and an independent implementation of the documented request rules
(written from the documentation, not from the code under test)."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
REALWORLD = SHARED / "data" / "realworld"
FIXTURE_LOGS = REPO / "tests" / "fixtures" / "logs"
DATA_PKG = REPO / "src" / "amtspuls" / "data"

ELASTIC_LOG = REALWORLD / "elastic-examples-apache-logs" / "apache_logs.log"
SHOP_LOG = REALWORLD / "lnav-test-logs" / "logfile_shop_access_log.0"
NGINX_TEST = FIXTURE_LOGS / "elastic-beats" / "nginx" / "test.log"
APACHE_TEST = FIXTURE_LOGS / "elastic-beats" / "apache" / "test.log"
GOACCESS_VCOMBINED = FIXTURE_LOGS / "goaccess" / "ci_vcombined_sample.log"


# --- CLI ----------------------------------------------------------------------------------

@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def cli(data: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AMTSPULS_")}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "amtspuls.cli", "--data", str(data), *args],
        capture_output=True, text=True, timeout=timeout, env=full_env, cwd=str(data.parent),
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def one_json(text: str):
    """Parse `text` as exactly one JSON document (raw_decode + nothing but whitespace after)."""
    decoder = json.JSONDecoder()
    stripped = text.strip()
    obj, end = decoder.raw_decode(stripped)
    assert stripped[end:].strip() == "", f"more than one JSON document: {text[:200]!r}"
    return obj


def assert_no_traceback(run: Run) -> None:
    assert "Traceback" not in run.err and "Traceback" not in run.out, run.err[-2000:]


def assert_user_error(run: Run) -> None:
    """Exit 2, exactly one line on stderr, no traceback."""
    assert_no_traceback(run)
    assert run.code == 2, (run.code, run.err)
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].strip(), run.err


# --- the documented request rules, implemented independently ------------------------------

COMBINED = re.compile(
    r'^(\S+) \S+ \S+ \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\S+)'
    r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"?)?'
)


@dataclass
class LogLine:
    ip: str
    ts: str
    method: str
    url: str
    status: int
    referrer: str | None
    user_agent: str | None  # None: no user-agent field in the line


def parse_combined(line: str) -> LogLine | None:
    m = COMBINED.match(line)
    if not m:
        return None
    request = m.group(3).split(" ")
    method = request[0] if len(request) >= 2 else ""
    url = request[1] if len(request) >= 2 else ""
    return LogLine(m.group(1), m.group(2), method, url, int(m.group(4)),
                   m.group(6), m.group(7))


@lru_cache(maxsize=1)
def request_rules() -> dict:
    return tomllib.loads((DATA_PKG / "request_rules.toml").read_text("utf-8"))


@lru_cache(maxsize=1)
def bot_regexes() -> list[re.Pattern]:
    entries = json.loads((DATA_PKG / "enrich" / "crawler-user-agents.json").read_text("utf-8"))
    pats = [e["pattern"] for e in entries]
    for raw in (DATA_PKG / "enrich" / "bot-patterns-extra.txt").read_text("utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            pats.append(line)
    return [re.compile(p) for p in pats]


@lru_cache(maxsize=1)
def spam_hosts() -> frozenset[str]:
    text = (DATA_PKG / "enrich" / "referrer-spammers.txt").read_text("utf-8")
    return frozenset(x.strip().lower() for x in text.splitlines() if x.strip())


@lru_cache(maxsize=100_000)
def is_bot_ua(ua: str | None) -> bool:
    """Empty or "-" is a bot; None (no UA field) is not; ua-parser 'Spider'; a pattern."""
    import ua_parser

    if ua is None:
        return False
    if ua.strip() in ("", "-"):
        return True
    if ua_parser.parse(ua).device is not None and ua_parser.parse(ua).device.family == "Spider":
        return True
    return any(p.search(ua) for p in bot_regexes())


def referrer_host(ref: str | None) -> str:
    if not ref or ref == "-":
        return ""
    try:
        host = urlsplit(ref).hostname or ""
    except ValueError:
        return ""
    return host.lower().rstrip(".")


def is_spam_ref(ref: str | None) -> bool:
    host = referrer_host(ref)
    if not host:
        return False
    labels = host.split(".")
    return any(".".join(labels[i:]) in spam_hosts() for i in range(len(labels) - 1))


def split_url(url: str) -> tuple[str, str]:
    u = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*", "", url)
    u = u.split("#", 1)[0]
    path, _, query = u.partition("?")
    return path, query


def extension(path: str) -> str:
    m = re.search(r"\.([A-Za-z0-9]{1,8})$", path)
    return m.group(1).lower() if m else ""


def has_search(query: str) -> bool:
    names = {n.lower() for n in request_rules()["search_params"]}
    for kv in query.split("&"):
        key, eq, value = kv.partition("=")
        if unquote(key).lower() in names and unquote(value.replace("+", " ")).strip():
            return True
    return False


def is_pageview(hit: LogLine) -> bool:
    rules = request_rules()
    path, query = split_url(hit.url)
    ext = extension(path)
    return (
        hit.method.upper() == "GET"
        and (200 <= hit.status <= 299 or hit.status == 304)
        and ext not in rules["static_extensions"]
        and ext not in rules["download_extensions"]
        and path.lower() not in rules["tracker_paths"]
        and not has_search(query)
        and not is_bot_ua(hit.user_agent)
        and not is_spam_ref(hit.referrer)
    )


# --- addresses ----------------------------------------------------------------------------

IPV4_RE = re.compile(r"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9.])")
# Candidate IPv6 text: hex groups with at least two colons; validated with ipaddress.
IPV6_CANDIDATE = re.compile(r"(?<![0-9A-Fa-f:])[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*")


def addresses_in(text: str) -> set[str]:
    import ipaddress

    found = set()
    for m in IPV4_RE.finditer(text):
        with contextlib.suppress(ValueError):
            found.add(str(ipaddress.IPv4Address(m.group(0))))
    for m in IPV6_CANDIDATE.finditer(text):
        cand = m.group(0)
        try:
            found.add(str(ipaddress.IPv6Address(cand)))
            found.add(cand)
        except ValueError:
            pass
    return found


# --- in-process access to a data directory (the test process holds no lock afterwards) ----

def stored(data: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Run a read query against the store file of `data` (read-only, closed afterwards)."""
    import duckdb

    con = duckdb.connect(str(data / "amtspuls.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def report(data: Path, name: str, site: str, date_from: str | None = None,
           date_to: str | None = None, interval: str = "day", k: int | None = None):
    """A report computed in-process by the same function the CLI and the API use, with
    the settings of `data` (so AMTSPULS_* environment variables apply)."""
    from datetime import date

    from amtspuls.analyze.reports import run_report
    from amtspuls.config import load_settings
    from amtspuls.store import open_store

    settings = load_settings(data)
    store = open_store(settings, read_only=True)
    try:
        the_site = store.get_site(site)
        assert the_site is not None, site
        result = run_report(
            store, the_site, name,
            date.fromisoformat(date_from) if date_from else None,
            date.fromisoformat(date_to) if date_to else None,
            interval, settings.k_anonymity if k is None else k,
        )
    finally:
        store.close()
    return json.loads(json.dumps(result, default=str))


# --- writing logs --------------------------------------------------------------------------

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
              "Gecko) Chrome/126.0.0.0 Safari/537.36")
CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
                  "Gecko) Chrome/126.0.0.0 Mobile Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def clf_time(ts) -> str:
    """A datetime as an NCSA time stamp (its own UTC offset; naive means UTC)."""
    from datetime import UTC

    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.strftime("%d/%b/%Y:%H:%M:%S %z")


def combined_line(ip: str, ts, request: str, status: int, ua: str, referrer: str = "-",
                  size: int = 1234) -> str:
    return f'{ip} - - [{clf_time(ts)}] "{request}" {status} {size} "{referrer}" "{ua}"'


def import_inproc(data: Path, site: str, *paths, fmt: str = "auto") -> dict:
    """`import-logs` without the process: the same function, its report as JSON."""
    from amtspuls.collect.logs.importer import import_logs
    from amtspuls.config import load_settings
    from amtspuls.store import open_store

    settings = load_settings(data)
    store = open_store(settings)
    try:
        the_site = store.ensure_site(site)
        result = import_logs(settings, store, the_site, [str(p) for p in paths], fmt)
    finally:
        store.close()
    return json.loads(json.dumps(result.to_json(), default=str))
