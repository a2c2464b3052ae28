"""The Empfehlungen page in Debian's Chromium against the session server: an analyst
computes the recommendations with the page's button, the page shows them in the order
the store has them (read from the store itself, not through the page), the lifecycle
buttons (accept, done with a date, dismiss with a reason), a viewer without buttons,
CSRF, axe-core and the keyboard alone."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import httpx
import pytest
from dash_helpers import ARTIFACTS, CHROMIUM, OTHER_SITE, PASSWORDS, SITE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (/usr/bin/chromium)"),
]

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ROWS = "#t-empfehlungen tbody tr"


def _stored(served, wording_for: str | None = None) -> list[dict]:
    """engine.list_recommendations straight from the store: the server is stopped for
    that moment (DuckDB lets one process open the file) and started again. Optionally
    stores a generated wording for one recommendation, as `recommend --llm` would."""
    from amtspuls.config import load_settings
    from amtspuls.recommend import engine
    from amtspuls.store import open_store
    from amtspuls.store import recommendations as rq

    served.stop()
    try:
        store = open_store(load_settings(served.data))
        try:
            site = store.get_site(SITE)
            recs = engine.list_recommendations(store, site)
            if wording_for:
                rq.save_wording(store, wording_for, {
                    "title": "Startseite: Hinweis ergänzen", "action": "Bitte prüfen.",
                    "model": "test-modell", "generated": True})
        finally:
            store.close()
    finally:
        served.start()
    return recs


def _session(browser, served, user: str):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="de-DE")
    page = ctx.new_page()
    page.goto(served.base + "/anmelden")
    page.fill("#l-name", user)
    page.fill("#l-password", PASSWORDS[user])
    page.click("#l-submit")
    page.wait_for_url(served.base + "/dashboard/")
    return ctx, page


def _open(page, served, **extra: str) -> None:
    query = "&".join(f"{k}={v}" for k, v in {"site": SITE, **extra}.items())
    r = page.goto(f"{served.base}/dashboard/empfehlungen?{query}")
    assert r is not None and r.status == 200


def _shown(page, table: str = "empfehlungen") -> list[dict]:
    rows = page.locator(f"#t-{table} tbody tr:not(:has(td.empty))")
    out = []
    for i in range(rows.count()):
        row = rows.nth(i)
        out.append({
            "id": row.locator('[data-key="id"]').get_attribute("data-value"),
            "title": row.locator('[data-key="recommendation"] p.title').inner_text(),
            "status": row.locator('[data-key="status"]').inner_text(),
            "outcome": row.locator('[data-key="outcome"]').inner_text(),
            "text": row.locator('[data-key="recommendation"]').inner_text(),
        })
    return out


def _row(page, rec_id: str):
    return page.locator(f'{ROWS}:has([data-key="id"][data-value="{rec_id}"])')


@pytest.fixture(scope="module")
def ui(browser, served):
    """alex (analyst) presses "Empfehlungen neu berechnen" on the still empty page."""
    ctx, page = _session(browser, served, "alex")
    try:
        _open(page, served)
        if not _shown(page):  # nothing computed yet in this session: the page says so
            notice = page.locator("#empfehlungen .notice")
            assert "noch keine Empfehlungen gespeichert" in notice.inner_text()
        button = page.get_by_role("button", name="Empfehlungen neu berechnen")
        with page.expect_navigation(timeout=120_000):
            button.click()
        assert "berechnet=" in page.url
        assert "Empfehlungen neu berechnet" in page.locator(".flash").inner_text()
        shown = _shown(page)
        assert shown, "the engine found nothing on the simulated data"
        recs = _stored(served, wording_for=shown[0]["id"])
        yield SimpleNamespace(page=page, ctx=ctx, recs=recs)
    finally:
        ctx.close()


def test_page_shows_the_stored_recommendations_in_their_order(ui, served):
    page = ui.page
    _open(page, served)
    page.screenshot(path=str(ARTIFACTS / "empfehlungen-analyst.png"), full_page=True)
    shown = _shown(page)
    assert [(r["id"], r["title"]) for r in shown] == [(r["id"], r["title"]) for r in ui.recs]
    assert [int(x) for x in page.locator(f'{ROWS} [data-key="rank"]').all_inner_texts()] == \
        list(range(1, len(shown) + 1))
    # the generated wording beside the deterministic text, marked as such
    first = _row(page, ui.recs[0]["id"]).locator('[data-key="recommendation"]')
    assert ui.recs[0]["action"] in first.inner_text()
    assert "KI-formuliert (test-modell)" in first.locator(".generated").inner_text()
    assert "Startseite: Hinweis ergänzen" in first.locator(".generated").inner_text()
    # evidence as text: the first evidence's value (the examples follow when there are)
    ev = ui.recs[0]["evidence"][0]
    cell = _row(page, ui.recs[0]["id"]).locator('[data-key="evidence"]').inner_text()
    assert ev["period"][:10] in cell and ("üblich" in cell or ev["baseline"] is None)
    # the overview: the top 5 open or accepted ones
    r = page.goto(f"{served.base}/dashboard/?site={SITE}")
    assert r is not None and r.status == 200
    top = [x["id"] for x in _shown(page, "top-empfehlungen")]
    assert top == [x["id"] for x in ui.recs if x["status"] in ("open", "accepted")][:5]


def test_analyst_accepts_marks_done_and_dismisses(ui, served):
    page = ui.page
    _open(page, served)
    first, second, third = (r["id"] for r in ui.recs[:3])
    # accept
    with page.expect_navigation():
        _row(page, first).get_by_role("button", name="annehmen").click()
    assert page.locator(".flash").inner_text() == "Gespeichert."
    assert _row(page, first).locator('[data-key="status"]').inner_text() == "angenommen"
    # done, with the day it went live
    day = (served.date_to - timedelta(days=3)).isoformat()
    row = _row(page, second)
    row.get_by_label("umgesetzt am").fill(day)
    with page.expect_navigation():
        row.get_by_role("button", name="erledigt").click()
    row = _row(page, second)
    assert row.locator('[data-key="status"]').inner_text() == "erledigt"
    assert f"umgesetzt am {day}" in row.locator('[data-key="outcome"]').inner_text()
    # dismiss without a reason: a German error, nothing changed
    with page.expect_navigation():
        _row(page, third).get_by_role("button", name="verwerfen").click()
    assert page.locator("[role=alert]").inner_text() == "Zum Verwerfen bitte einen Grund angeben."
    page.screenshot(path=str(ARTIFACTS / "empfehlungen-fehler.png"))
    with page.expect_navigation():
        page.get_by_role("link", name="Zurück", exact=True).click()
    assert _row(page, third).locator('[data-key="status"]').inner_text() == "offen"
    # … and with one
    row = _row(page, third)
    row.get_by_label("Grund (Pflichtangabe)").fill("Wird bereits im Bürgerbüro bearbeitet")
    with page.expect_navigation():
        row.get_by_role("button", name="verwerfen").click()
    assert _row(page, third).count() == 0  # the current list leaves out dismissed ones
    _open(page, served, status="dismissed")
    assert page.locator("#f-status").input_value() == "dismissed"
    shown = _shown(page)
    assert [r["id"] for r in shown] == [third]
    assert shown[0]["outcome"] == "Grund: Wird bereits im Bürgerbüro bearbeitet"
    # the CSV of the filtered table has the same row
    href = page.locator("#block-empfehlungen .export a").get_attribute("href")
    assert "status=dismissed" in href
    csv = page.evaluate("url => fetch(url).then(r => r.text())", href)
    assert third in csv and "verworfen" in csv and len(csv.strip().splitlines()) == 2
    # a done one can be opened again; an accepted one only has no "annehmen"
    _open(page, served)
    assert _row(page, first).get_by_role("button", name="annehmen").count() == 0
    assert _row(page, second).get_by_role("button", name="wieder öffnen").count() == 1


def test_viewer_sees_everything_but_no_buttons_and_csrf_is_needed(ui, served):
    ids = [r["id"] for r in ui.recs]
    with served.login("vera") as vera:
        page = vera.get("/dashboard/empfehlungen", params={"site": SITE})
        assert page.status_code == 200
        shown = re.findall(r'data-key="id" data-value="([^"]+)"', page.text)
        assert shown and set(shown) <= set(ids)
        assert 'method="post" action="/dashboard/empfehlungen' not in page.text
        assert "neu berechnen" not in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = vera.post(f"/dashboard/empfehlungen/{ids[3]}",
                      data={"csrf": csrf, "site": SITE, "action": "accepted"},
                      headers={"Origin": served.base})
        assert r.status_code == 403
        en = vera.get("/dashboard/empfehlungen", params={"site": SITE, "lang": "en"})
        assert "Recommendations" in en.text and "Impact/week" in en.text
    with served.login("nora") as nora:  # viewer of a site without recommendations
        page = nora.get("/dashboard/empfehlungen", params={"site": OTHER_SITE})
        assert "noch keine Empfehlungen gespeichert" in page.text
        assert "Analyst kann sie berechnen" in page.text and "neu berechnen" not in page.text
    with served.login("alex") as alex:
        for path in (f"/dashboard/empfehlungen/{ids[3]}", "/dashboard/empfehlungen/berechnen"):
            r = alex.post(path, data={"site": SITE, "action": "accepted"},
                          headers={"Origin": served.base})
            assert r.status_code == 403, path  # no CSRF token
        page = alex.get("/dashboard/empfehlungen", params={"site": SITE})
        row = next(tr for tr in page.text.split("<tr>") if f'data-value="{ids[3]}"' in tr)
        assert 'data-key="status" data-value="offen"' in row  # unchanged
    r = httpx.post(f"{served.base}/dashboard/empfehlungen/{ids[3]}",
                   data={"site": SITE, "action": "accepted"})
    assert r.status_code in (401, 403)
    with served.login("anna") as anna:
        log = anna.get("/dashboard/export/einstellungen/protokoll.csv").text
    for action in ("empfehlungen.run", "empfehlungen.accepted", "empfehlungen.done",
                   "empfehlungen.dismissed"):
        assert action in log, action


def test_axe_finds_no_serious_violation(ui, served):
    from axe_playwright_python.sync_playwright import Axe

    page = ui.page
    found = {}
    for status in ("", "done"):
        _open(page, served, status=status)
        result = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG},
                                          "resultTypes": ["violations"]})
        bad = [{"id": v["id"], "impact": v["impact"],
                "nodes": [n["target"] for n in v["nodes"][:5]]}
               for v in result.response["violations"] if v["impact"] in ("serious", "critical")]
        if bad:
            found[status or "aktuell"] = bad
    assert found == {}


def test_accept_by_keyboard_alone(ui, served):
    page = ui.page
    _open(page, served)
    target = None
    for _ in range(80):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement;
            const row = e.closest('tr');
            const id = row && row.querySelector('[data-key="id"]');
            return {tag: e.tagName, text: (e.innerText || '').trim(),
                    id: id ? id.getAttribute('data-value') : null,
                    outline: getComputedStyle(e).outlineStyle}; }""")
        if focused["tag"] == "BUTTON" and focused["text"].startswith("annehmen"):
            target = focused
            break
    assert target is not None, "no accept button reachable by Tab"
    assert target["outline"] != "none"  # visible focus
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".flash").inner_text() == "Gespeichert."
    assert _row(page, target["id"]).locator('[data-key="status"]').inner_text() == "angenommen"
