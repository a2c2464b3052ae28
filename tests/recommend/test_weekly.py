"""The weekly report (`amtspuls report weekly`) on a real store with a simulated city.

What is checked against what: the week's visits against a direct DuckDB count on the raw
events (not the aggregates the report reads), the recommendations against the engine's
own order, the file against an HTML parser (self-contained: nothing loaded from
elsewhere), the e-mail against a real SMTP server on loopback.
"""

from __future__ import annotations

import email
import json
import os
import socket
import subprocess
import sys
from datetime import date, datetime
from email import policy
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from markupsafe import escape

from amtspuls.config import load_settings
from amtspuls.errors import UserError
from amtspuls.recommend import weekly
from amtspuls.store import open_store
from amtspuls.store import recommendations as rq
from amtspuls.store import signals as sq

SITE = "www.musterstadt.de"
WEEK = "2026-W05"  # the last complete week of a 35-day run from 2026-01-01 (a Thursday)
MONDAY, SUNDAY = date(2026, 1, 26), date(2026, 2, 1)
TZ = "Europe/Berlin"
SCRIPT_QUERY = "<script>alert('wochenbericht')</script>"
RARE_QUERY = "geheimsache einzelperson"  # one visitor: below k, must never be listed
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AMTSPULS_")}


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "amtspuls.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=_env())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _extra_events(path: Path) -> None:
    """Searches without results in the report week: a script payload by seven visitors
    (listed, so it must be escaped) and a query of a single visitor (never listed)."""
    rows = []
    for i in range(7):
        rows.append({"ts": f"2026-01-28T{9 + i:02d}:15:00Z", "ip": f"93.184.{20 + i}.7",
                     "ua": UA, "type": "search",
                     "url": f"https://{SITE}/suche?q=script", "query": SCRIPT_QUERY,
                     "results": 0})
    rows.append({"ts": "2026-01-29T10:00:00Z", "ip": "93.184.40.7", "ua": UA,
                 "type": "search", "url": f"https://{SITE}/suche?q=geheim",
                 "query": RARE_QUERY, "results": 0})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _alert(uid: str, start: datetime, message: str) -> dict:
    return {"uid": uid, "signal": "form_submits", "service_id": "personalausweis",
            "key": "personalausweis", "direction": "down", "start_ts": start,
            "end_ts": start.replace(hour=start.hour + 2), "detected_ts": start,
            "observed": 2, "expected": 40.5, "score": 9.1, "severity": "critical",
            "status": "closed",
            "evidence": {"message_de": message, "label_de": "abgeschickte Formulare"}}


@pytest.fixture(scope="session")
def city(tmp_path_factory):
    """A simulated city imported into a store, two stored alerts, and the weekly report
    of the default week (written once, read by several tests)."""
    root = tmp_path_factory.mktemp("weekly")
    sim, data = root / "sim", root / "data"
    r = cli("simulate", "--out", str(sim), "--days", "35", "--visits-per-day", "1500",
            "--seed", "5", "--json")
    assert r.returncode == 0, r.stderr
    extra = root / "extra.jsonl"
    _extra_events(extra)
    r = cli("--data", str(data), "import-events", str(sim / "events.jsonl.gz"), str(extra),
            "--site", SITE, "--json")
    assert r.returncode == 0, r.stderr
    settings = load_settings(str(data))
    store = open_store(settings)
    try:
        site = store.get_site(SITE)
        sq.upsert_alert(store, site.id, _alert(
            "t-week", datetime(2026, 1, 28, 9, 0), "Formular <b>Personalausweis</b> fällt aus"))
        sq.upsert_alert(store, site.id, _alert(
            "t-old", datetime(2026, 1, 13, 9, 0), "Alte Warnung aus KW 3"))
    finally:
        store.close()
    out = root / "out" / "bericht.html"
    out.parent.mkdir()
    r = cli("--data", str(data), "report", "weekly", "--site", SITE, "--out", str(out),
            "--json")
    assert r.returncode == 0, r.stderr
    return {"root": root, "data": data, "out": out, "summary": json.loads(r.stdout),
            "html": out.read_text(encoding="utf-8")}


class Parsed(HTMLParser):
    """Tags with their attributes, text, and the order of recommendation items."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.svg_titles = 0
        self.recs: list[str] = []
        self.section: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "section":
            self.section = a.get("id")
        if tag == "title" and "svg" in self.stack:
            self.svg_titles += 1
        if tag == "li" and a.get("data-rec") and self.section == "empfehlungen":
            self.recs.append(a["data-rec"])
        if tag not in ("meta", "br", "line", "rect", "polyline", "circle"):
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Parsed:
    p = Parsed()
    p.feed(html)
    p.close()
    return p


# -- the file --------------------------------------------------------------------------------

def test_report_is_one_self_contained_printable_file(city):
    html, out = city["html"], city["out"]
    assert out.is_file() and html.startswith("<!doctype html>")
    assert [p.name for p in out.parent.iterdir()] == ["bericht.html"]  # no temp file left
    p = parse(html)
    names = [t for t, _ in p.tags]
    assert "html" in names and "body" in names and "table" in names
    for forbidden in ("link", "script", "img", "iframe", "object", "embed", "audio", "video",
                      "source", "image", "use", "base"):
        assert forbidden not in names, forbidden
    for tag, attrs in p.tags:
        for name in ("src", "href", "xlink:href", "srcset", "action", "poster", "data"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "ftp:")), (tag, name, value)
    low = html.lower()
    assert "<link" not in low and "@import" not in low and "url(" not in low
    assert "@font-face" not in low
    assert "@media print" in html and "size: A4" in html
    # every chart: an SVG image with a title, and a data table as its alternative
    svgs = [a for t, a in p.tags if t == "svg"]
    assert svgs and all(a.get("role") == "img" and a.get("aria-labelledby") for a in svgs)
    assert p.svg_titles == len(svgs)
    ids = {a.get("id") for _, a in p.tags}
    for a in svgs:
        assert set(a["aria-labelledby"].split()) <= ids
    assert "Besuche pro Tag (Daten zum Diagramm)" in "".join(p.text)
    text = " ".join("".join(p.text).split())
    assert "Wochenbericht KW 5/2026" in text and SITE in text
    assert "26.01.2026" in text and "01.02.2026" in text


def test_week_visits_equal_an_independent_count_on_the_events(city):
    # A visit counts on the local day it starts (as the overview counts them): distinct
    # sessions whose first event falls on a local day of the week.
    con = duckdb.connect(str(city["data"] / "amtspuls.duckdb"), read_only=True)
    try:
        (n,), = con.execute(
            f"""
            SELECT count(*) FROM (
                SELECT session_id, min(ts) AS first_ts FROM events GROUP BY session_id
            ) WHERE CAST(timezone('{TZ}', timezone('UTC', first_ts)) AS DATE)
                    BETWEEN DATE '{MONDAY}' AND DATE '{SUNDAY}'
            """).fetchall()
    finally:
        con.close()
    summary = city["summary"]
    assert summary["week"] == WEEK and summary["from"] == MONDAY.isoformat()
    assert summary["figures"]["visits"]["value"] == n > 5000
    # the same figure is what the file shows
    p = parse(city["html"])
    shown = [a for t, a in p.tags if t == "td" and "data-value" in a]
    assert shown and int(shown[0]["data-value"]) == n
    # the first simulated week starts on a Thursday: it is no complete comparison week
    assert summary["compare_weeks"] == ["2026-W02", "2026-W03", "2026-W04"]
    assert summary["figures"]["visits"]["usual"] > 0


def test_recommendations_appear_in_the_engines_order(city):
    from amtspuls.recommend import engine

    settings = load_settings(str(city["data"]))
    store = open_store(settings, read_only=True)
    try:
        recs = [r for r in engine.list_recommendations(store, store.get_site(SITE))
                if r["status"] in ("open", "accepted")][:weekly.TOP_RECOMMENDATIONS]
    finally:
        store.close()
    assert len(recs) >= 3
    p = parse(city["html"])
    assert p.recs == [r["id"] for r in recs]
    assert city["summary"]["recommendations"] == [r["id"] for r in recs]
    text = " ".join("".join(p.text).split())
    for r in recs:
        assert " ".join(r["title"].split()) in text


def test_script_query_is_escaped_and_rare_queries_are_not_listed(city):
    html = city["html"]
    p = parse(html)
    assert "script" not in [t for t, _ in p.tags]
    assert "&lt;script&gt;" in html and SCRIPT_QUERY not in html
    assert SCRIPT_QUERY in "".join(p.text)  # shown as text: seven visitors searched it
    assert RARE_QUERY not in html  # one visitor: below k
    assert "<b>" not in html and "&lt;b&gt;Personalausweis&lt;/b&gt;" in html


def test_alerts_of_the_week_only(city):
    text = " ".join("".join(parse(city["html"]).text).split())
    assert "Personalausweis</b> fällt aus" in text
    assert "28.01.2026 10:00" in text  # 09:00 UTC in Berlin
    assert "Alte Warnung" not in text
    assert city["summary"]["alerts"] == 1


def test_generated_wording_is_marked_and_shown_next_to_the_deterministic_text(city):
    settings = load_settings(str(city["data"]))
    store = open_store(settings)
    try:
        site = store.get_site(SITE)
        top = city["summary"]["recommendations"][0]
        rq.save_wording(store, top, {"title": "Kurz gesagt: Abfalltermine prüfen",
                                     "action": "Bitte <i>heute</i> prüfen.",
                                     "generated": True})
        try:
            data = weekly.build(store, site, settings, weekly.parse_week(WEEK))
            html = weekly.render_html(data)
        finally:
            rq.save_wording(store, top, None)
    finally:
        store.close()
    rec = data["recommendations"][0]
    item = html.split(f'data-rec="{top}"', 1)[1].split("</li>", 1)[0]
    assert "KI-formuliert" in item and "Kurz gesagt: Abfalltermine prüfen" in item
    assert "Bitte &lt;i&gt;heute&lt;/i&gt; prüfen." in item
    assert str(escape(rec["title"])) in item and str(escape(rec["action"])) in item
    assert item.index(str(escape(rec["action"]))) < item.index("KI-formuliert")
    assert html.count("KI-formuliert") == 1


# -- e-mail ----------------------------------------------------------------------------------

@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    received: list[tuple[list[str], str, bytes]] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            received.append((envelope.rcpt_tos, envelope.mail_from, envelope.content))
            return "250 OK"

    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield port, received
    finally:
        ctl.stop()


def test_email_delivery_to_a_real_smtp_server(city, smtp_server):
    port, received = smtp_server
    out = city["root"] / "out" / "kw4.html"
    r = cli("--data", str(city["data"]), "report", "weekly", "--site", SITE, "--out", str(out),
            "--week", "2026-W04", "--email-to", "buergermeister@musterstadt.de",
            "--email-to", "presse@musterstadt.de", "--smtp-host", "127.0.0.1",
            "--smtp-port", str(port), "--smtp-from", "amtspuls@musterstadt.de", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["emailed_to"] == ["buergermeister@musterstadt.de",
                                                  "presse@musterstadt.de"]
    assert len(received) == 1
    rcpts, sender, raw = received[0]
    assert rcpts == ["buergermeister@musterstadt.de", "presse@musterstadt.de"]
    assert sender == "amtspuls@musterstadt.de"
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == f"amtspuls Wochenbericht {SITE} KW 4"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "Wochenbericht KW 4/2026" in plain and "Besuche:" in plain
    assert html.replace("\r\n", "\n") == out.read_text(encoding="utf-8")
    assert "Wochenbericht KW 4/2026" in html


def test_email_server_defaults_come_from_the_alert_channel_config(city, smtp_server):
    port, received = smtp_server
    toml = city["data"] / "amtspuls.toml"
    toml.write_text(f'[warning.email]\nto = ["leitstelle@musterstadt.de"]\nhost = "127.0.0.1"\n'
                    f'port = {port}\nfrom = "bericht@musterstadt.de"\n', encoding="utf-8")
    try:
        out = city["root"] / "out" / "config.html"
        r = cli("--data", str(city["data"]), "report", "weekly", "--site", SITE, "--out",
                str(out), "--email-to", "amt@musterstadt.de")
    finally:
        toml.unlink()
    assert r.returncode == 0, r.stderr
    assert "amt@musterstadt.de" in r.stdout
    assert [(rc, s) for rc, s, _ in received] == [(["amt@musterstadt.de"],
                                                   "bericht@musterstadt.de")]


def test_unreachable_smtp_server_exits_2_and_keeps_the_file(city):
    out = city["root"] / "out" / "unzustellbar.html"
    r = cli("--data", str(city["data"]), "report", "weekly", "--site", SITE, "--out", str(out),
            "--email-to", "amt@musterstadt.de", "--smtp-host", "127.0.0.1",
            "--smtp-port", str(free_port()))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "e-mail not sent" in lines[0] and str(out) in lines[0]
    assert out.is_file() and "Wochenbericht KW 5/2026" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("args", [
    ("--week", "2026-W60"),
    ("--week", "KW5"),
    ("--week", "2026-W20"),  # after the last day with data
    ("--site", "www.unbekannt.de"),
    ("--email-to", "kein-empfaenger"),
])
def test_bad_input_exits_2_and_writes_nothing(city, args):
    out_dir = city["root"] / "bad"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / "bericht.html"
    base = {"--site": SITE}
    opts = dict(zip(args[::2], args[1::2], strict=True))
    site = opts.pop("--site", base["--site"])
    extra = [x for kv in opts.items() for x in kv]
    r = cli("--data", str(city["data"]), "report", "weekly", "--site", site, "--out",
            str(out), *extra)
    assert r.returncode == 2, r.stdout
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert list(out_dir.iterdir()) == []


def test_unwritable_out_path_exits_2(city):
    missing = city["root"] / "no-such-dir" / "bericht.html"
    r = cli("--data", str(city["data"]), "report", "weekly", "--site", SITE, "--out",
            str(missing))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "--out" in r.stderr and not missing.parent.exists()
    r = cli("--data", str(city["data"]), "report", "weekly", "--site", SITE)
    assert r.returncode == 2 and "--out" in r.stderr
    # the other reports keep their options; weekly-only options are refused there
    r = cli("--data", str(city["data"]), "report", "overview", "--site", SITE, "--out",
            str(missing))
    assert r.returncode == 2 and "weekly" in r.stderr


# -- small parts -----------------------------------------------------------------------------

@pytest.mark.parametrize(("last", "week"), [
    (date(2026, 2, 4), "2026-W05"),   # Wednesday: the week before
    (date(2026, 2, 1), "2026-W05"),   # Sunday: its own week is complete
    (date(2026, 2, 2), "2026-W05"),   # Monday
    (date(2021, 1, 3), "2020-W53"),   # ISO year differs from the calendar year
])
def test_default_week_is_the_last_complete_one(last, week):
    assert weekly.default_week(last).label == week


def test_parse_week():
    w = weekly.parse_week("2026-W05")
    assert (w.monday, w.sunday, w.label_de) == (MONDAY, SUNDAY, "KW 5/2026")
    assert weekly.parse_week("2020-W53").monday == date(2020, 12, 28)
    for bad in ("2026-W00", "2025-W53", "2026-05", "W05", ""):
        with pytest.raises(UserError):
            weekly.parse_week(bad)


def test_german_number_formats():
    assert weekly.number_de(1234567) == "1.234.567"
    assert weekly.number_de(1234.5) == "1.234,5"
    assert weekly.number_de(None) == "–"
    assert weekly.de_approx(10219.97) == "10.220" and weekly.de_approx(5.94) == "5,9"
    assert weekly.de_change(0.123) == "+12 %" and weekly.de_change(-0.05) == "−5 %"
    assert weekly.de_change(0.001) == "±0 %" and weekly.de_change(None) == "–"
    assert weekly.percent_de(0.953, 0) == "95 %"
