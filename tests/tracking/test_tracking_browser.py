"""The tracker in Debian's Chromium on a fixture site, next to the Matomo- and
Plausible-compatible endpoints fed with the same visit: every event lands with its fields,
nothing is stored in the browser, and the page talks to no other host."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tracking_helpers import CHROME_UA, SITE, Server, cli, request, store_rows

CHROMIUM = Path("/usr/bin/chromium")
FIXTURES = Path(__file__).parent / "fixtures"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
# Headless Chromium calls itself HeadlessChrome, which the bot rules drop. Playwright's
# per-page override misses beacons sent while a page unloads, so the browser gets it too.
ARGS_UA = [*ARGS, f"--user-agent={CHROME_UA}"]
OUTLINK = "https://www.service-bw.de/leistungen/wohngeld"
SECRET_NAME, SECRET_EMAIL, SECRET_PLZ = "Erika Mustermann", "erika@example.de", "12"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (/usr/bin/chromium)"),
]


def pages(snippet: str) -> dict[str, tuple[int, str, bytes]]:
    def html(title: str, body: str, attrs: str = "", tag: str = snippet) -> bytes:
        return (f'<!doctype html><html lang="de"><head><meta charset="utf-8"><title>{title}'
                f"</title>{tag}</head><body{attrs}>{body}</body></html>").encode()

    dnt_tag = snippet.replace("<script ", "<script data-respect-dnt ")
    return {
        "/index.html": (200, "text/html", html("Startseite – Musterstadt", f"""
            <h1>Musterstadt</h1>
            <form action="/suche.html"><input name="q"><button id="suchen">Suchen</button></form>
            <a id="pdf" href="/formulare/antrag-wohngeld.pdf" download>Antrag (PDF)</a>
            <a id="extern" href="{OUTLINK}">Wohngeld bei service-bw</a>
            <a id="formular" href="/formular.html">Wohngeld beantragen</a>
            <a id="kaputt" href="/fehlt.html">Alte Seite</a>
            <button id="spa" onclick="history.pushState({{}}, '', '/buergerservice/termine')">
              Termine</button>
            <div id="karte" style="width:300px;height:120px;background:#ddd">Karte</div>""")),
        "/suche.html": (200, "text/html", html("Suche", """
            <p data-amtspuls-results="3">3 Treffer</p><a href="/index.html">zurück</a>""")),
        "/formular.html": (200, "text/html", html("Wohngeld beantragen", """
            <form name="wohngeld" action="/danke.html" method="post">
              <input name="name" required>
              <input name="email" type="email" required>
              <input name="plz" id="plz">
              <button id="senden" type="submit">Absenden</button>
            </form>
            <script>
              document.getElementById('plz').addEventListener('change', function (e) {
                e.target.setAttribute('aria-invalid', /^[0-9]{5}$/.test(e.target.value)
                  ? 'false' : 'true');
              });
            </script>""")),
        "/danke.html": (200, "text/html", html("Vielen Dank", "<p>Eingegangen.</p>")),
        "/fehlt.html": (404, "text/html", html("Nicht gefunden", "<p>Gibt es nicht.</p>",
                                               " data-amtspuls-404")),
        "/dnt.html": (200, "text/html", html("DNT", "<p>Do Not Track</p>", tag=dnt_tag)),
        "/formulare/antrag-wohngeld.pdf": (200, "application/pdf",
                                           b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
    }


class FixtureSite:
    """Static pages on loopback (the municipality's website)."""

    def __init__(self, content: dict[str, tuple[int, str, bytes]]) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                status, kind, body = content.get(urlsplit(self.path).path,
                                                 (404, "text/plain", b"nicht gefunden"))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                self._serve()

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._serve()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self._ = site

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def visit(tmp_path_factory):
    """One visit in Chromium, then the same visit as Matomo requests and Plausible events;
    the server is stopped and its store read."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    data = tmp_path_factory.mktemp("browser") / "data"
    env = {"AMTSPULS_COLLECT_RATE_LIMIT": "0"}
    server = Server(data, env=env)
    snippet_run = cli(data, "site", "snippet", SITE, "--url", server.base, env=env)
    assert snippet_run.returncode == 0, snippet_run.stderr
    snippet = snippet_run.stdout.strip()
    server.start()
    site = FixtureSite(pages(snippet))
    seen: list[str] = []
    bodies: list[str] = []
    browser_state: dict[str, object] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS_UA)
            context = browser.new_context(user_agent=CHROME_UA, accept_downloads=True)

            def on_request(req) -> None:
                seen.append(req.url)
                if req.url.startswith(server.base + "/api/collect") and req.post_data:
                    bodies.append(req.post_data)

            context.on("request", on_request)
            # The outbound link leaves the site: answered here, it never reaches a network.
            context.route("https://www.service-bw.de/**",
                          lambda route: route.fulfill(status=200, content_type="text/html",
                                                      body="<title>extern</title>"))
            page = context.new_page()
            page.goto(site.base + "/index.html")
            page.wait_for_load_state("load")
            # history API navigation
            page.click("#spa")
            page.wait_for_timeout(200)
            # rage clicks: three real clicks in quick succession on the same spot
            page.locator("#karte").click(click_count=3, position={"x": 50, "y": 40})
            # a PDF form download
            with page.expect_download():
                page.click("#pdf")
            # site search with a result count on the page
            page.fill("input[name=q]", "personalausweis")
            page.click("#suchen")
            page.wait_for_url("**/suche.html?q=personalausweis")
            page.wait_for_load_state("load")
            # a form: typing starts it, an invalid submit fails at `email`, the JS check at
            # `plz`, then it is sent
            page.goto(site.base + "/formular.html")
            page.fill("input[name=name]", SECRET_NAME)
            page.click("#senden")  # email missing: the browser's validation stops it
            page.wait_for_timeout(200)
            page.fill("#plz", SECRET_PLZ)
            page.locator("#plz").blur()
            page.wait_for_timeout(200)
            page.fill("#plz", "")
            page.fill("input[name=email]", SECRET_EMAIL)
            page.click("#senden")
            page.wait_for_url("**/danke.html")
            page.wait_for_load_state("load")
            for url in (site.base + "/danke.html",):
                browser_state[url] = page.evaluate(
                    "[document.cookie, localStorage.length, sessionStorage.length]")
            # a page marked as not found, then the outbound link
            page.goto(site.base + "/fehlt.html")
            page.wait_for_load_state("load")
            page.goto(site.base + "/index.html")
            page.wait_for_load_state("load")
            browser_state["index"] = page.evaluate(
                "[document.cookie, localStorage.length, sessionStorage.length]")
            page.click("#extern")
            page.wait_for_url(OUTLINK)
            page.wait_for_timeout(300)
            browser_state["cookies"] = context.cookies()
            context.close()

            # Do Not Track: with the attribute and DNT set, nothing is sent
            dnt = browser.new_context(user_agent=CHROME_UA)
            dnt.add_init_script(
                "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})")
            dnt_requests: list[str] = []
            dnt.on("request", lambda req: dnt_requests.append(req.url))
            p2 = dnt.new_page()
            p2.goto(site.base + "/dnt.html")
            p2.wait_for_load_state("load")
            p2.wait_for_timeout(300)
            dnt.close()
            browser.close()
        browser_state["dnt_requests"] = dnt_requests

        # the same visit as matomo.js and Plausible's script send it
        idsite = "1"
        for line in (FIXTURES / "matomo_requests.txt").read_text().splitlines():
            if line and not line.startswith("#"):
                r = request(server, "GET", "/matomo.php?" + line.replace("{IDSITE}", idsite),
                            headers={"X-Forwarded-For": "198.51.100.1"})
                assert r.status == 204, r.body
        for line in (FIXTURES / "plausible_events.jsonl").read_text().splitlines():
            r = request(server, "POST", "/api/event", line, {"Content-Type": "text/plain"})
            assert r.status == 202, r.body
    finally:
        site.close()
        server.stop()
    events = store_rows(data, "SELECT * FROM events ORDER BY ts")
    return {"events": events, "seen": seen, "bodies": bodies, "server": server,
            "site": site, "state": browser_state, "data": data}


def _of(visit, source: str, kind: str | None = None) -> list[dict]:
    return [e for e in visit["events"] if e["source"] == source
            and (kind is None or e["type"] == kind)]


def test_pageviews_incl_history_navigation_and_not_found(visit):
    pages_seen = [e["path"] for e in _of(visit, "tracker", "pageview")]
    for path in ("/index.html", "/buergerservice/termine", "/formular.html", "/danke.html"):
        assert path in pages_seen
    first = _of(visit, "tracker", "pageview")[0]
    assert first["title"] == "Startseite – Musterstadt"
    assert first["browser"] == "Chrome" and first["device"] is not None
    assert [e["path"] for e in _of(visit, "tracker", "not_found")] == ["/fehlt.html"]


def test_search_with_result_count(visit):
    (search,) = _of(visit, "tracker", "search")
    assert search["path"] == "/suche.html"
    assert search["search_query"] == "personalausweis"
    assert search["search_results"] == 3


def test_download_and_outbound_link(visit):
    (dl,) = _of(visit, "tracker", "download")
    assert dl["target"].endswith("/formulare/antrag-wohngeld.pdf")
    outs = _of(visit, "tracker", "outlink")
    assert [o["target"] for o in outs] == [OUTLINK]


def test_form_start_error_submit_with_field_names_only(visit):
    forms = [(e["type"], e["form"], e["field"]) for e in _of(visit, "tracker")
             if e["type"].startswith("form_")]
    assert ("form_start", "wohngeld", "name") in forms
    assert ("form_error", "wohngeld", "email") in forms  # the browser's `invalid`
    assert ("form_error", "wohngeld", "plz") in forms  # aria-invalid set by the page's JS
    assert ("form_submit", "wohngeld", None) in forms
    for body in visit["bodies"]:
        for secret in (SECRET_NAME, SECRET_EMAIL, "Mustermann"):
            assert secret not in body
    for e in visit["events"]:
        assert SECRET_EMAIL not in json.dumps(e, default=str)


def test_rage_click_and_engagement(visit):
    rage = _of(visit, "tracker", "rage_click")
    assert [r["event_name"] for r in rage] == ["div#karte"]
    engaged = _of(visit, "tracker", "engagement")
    assert all(e["engagement_ms"] > 0 for e in engaged)
    # sent on history navigation and when a page is left (pagehide / visibilitychange)
    assert {"/index.html", "/suche.html", "/formular.html", "/danke.html"} <= {
        e["path"] for e in engaged}


def test_nothing_stored_in_the_browser(visit):
    state = visit["state"]
    for key, value in state.items():
        if key not in ("cookies", "dnt_requests"):
            assert value == ["", 0, 0], key
    assert state["cookies"] == []


def test_no_request_to_other_hosts(visit):
    allowed = {f"127.0.0.1:{visit['site'].port}", f"127.0.0.1:{visit['server'].port}"}
    foreign = [u for u in visit["seen"] if urlsplit(u).netloc not in allowed and u != OUTLINK]
    assert foreign == []
    assert any("/js/amtspuls.js" in u for u in visit["seen"])
    assert sum("/api/collect" in u for u in visit["seen"]) >= 10


def test_do_not_track_is_honoured(visit):
    sent = [u for u in visit["state"]["dnt_requests"] if "/api/collect" in u]
    assert sent == []
    assert any("/js/amtspuls.js" in u for u in visit["state"]["dnt_requests"])


def test_bodies_hold_only_tracker_fields(visit):
    allowed = {"site", "type", "url", "referrer", "title", "query", "results", "target", "form",
               "field", "engagement_ms", "name"}
    for body in visit["bodies"]:
        obj = json.loads(body)
        assert set(obj) <= allowed, obj
        assert obj["site"] == SITE


def _common(events: list[dict]) -> set[tuple]:
    """What all three clients can express: pages, searches, downloads, outbound links."""
    out = set()
    for e in events:
        if e["type"] == "pageview":
            out.add(("pageview", e["path"]))
        elif e["type"] == "search":
            out.add(("search", e["path"], e["search_query"]))
        elif e["type"] == "download":
            out.add(("download", urlsplit(e["target"]).path))
        elif e["type"] == "outlink":
            out.add(("outlink", e["target"]))
    return out


def test_matomo_and_plausible_land_the_same_events(visit):
    tracker = _common(_of(visit, "tracker"))
    matomo = _common(_of(visit, "matomo"))
    plausible = _common(_of(visit, "plausible"))
    assert matomo == plausible == tracker
    (m_search,) = _of(visit, "matomo", "search")
    assert m_search["search_results"] == 3
    assert [e["path"] for e in _of(visit, "plausible", "not_found")] == ["/fehlt.html"]
    (custom,) = _of(visit, "matomo", "custom")
    assert (custom["event_category"], custom["event_action"], custom["event_name"]) == (
        "Formular", "Absenden", "wohngeld")
    # Matomo's visitor id never reaches the store; the ping records nothing
    assert "3f2a9c1d4e5b6a7f" not in json.dumps(visit["events"], default=str)
    assert len(_of(visit, "matomo")) == 8


def test_wal_is_gone_after_a_clean_stop(visit):
    wal = visit["data"] / "wal"
    assert wal.is_dir() and list(wal.iterdir()) == []
    assert store_rows(visit["data"], "SELECT * FROM imports WHERE fingerprint LIKE 'wal:%'") == []
