"""A small hand-built site for the needs tests: tracker events whose expected figures are
counted by hand in this file (independently of the code under test)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote_plus

SITE = "www.teststadt.de"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
# Recent (a served app applies retention at start-up), fixed within one test run.
DAY = (datetime.now(UTC) - timedelta(days=3)).replace(hour=8, minute=0, second=0,
                                                       microsecond=0)
FROM = (DAY - timedelta(days=1)).date().isoformat()
TO = (DAY + timedelta(days=1)).date().isoformat()
SECRET_QUERY = "mein geheimer suchbegriff"


def cli(data: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "amtspuls.cli", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=timeout)


class Builder:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.n_visitors = 0

    def visit(self, steps: list[tuple]) -> None:
        """One visitor, one session: steps of (type, path, extra fields)."""
        self.n_visitors += 1
        i = self.n_visitors
        ip = f"81.{10 + i // 250}.{i % 250}.9"  # one /24 network per visitor
        t = DAY + timedelta(minutes=3 * i)
        ref = None
        for kind, path, extra in steps:
            extra = dict(extra)
            dwell = extra.pop("_dwell", 20)
            ev = {"ts": t.isoformat(), "ip": ip, "ua": UA, "type": kind,
                  "url": f"https://{SITE}{path}"}
            if ref and kind in ("pageview", "search", "not_found"):
                ev["referrer"] = f"https://{SITE}{ref}"
            ev.update(extra)
            self.events.append(ev)
            if kind in ("pageview", "search", "not_found"):
                ref = path
            t += timedelta(seconds=dwell)


def search(q: str, results: int) -> tuple:
    return ("search", f"/suche?q={quote_plus(q)}", {"query": q, "results": results})


def page(path: str, dwell: int = 20) -> tuple:
    return ("pageview", path, {"_dwell": dwell})


def form(kind: str, slug: str, form_id: str, field: str | None = None) -> tuple:
    extra = {"form": form_id}
    if field:
        extra["field"] = field
    return (kind, f"/online/{slug}", extra)


def build() -> list[dict]:
    b = Builder()
    # A: 6 visitors search "perso verlängern", open the service page, submit its form;
    # 3 of them searched "ausweis" before.
    for i in range(6):
        pre = [search("ausweis", 4)] if i < 3 else []
        b.visit([page("/"), *pre, search("perso verlängern", 3),
                 page("/leistungen/personalausweis"), page("/online/personalausweis"),
                 form("form_start", "personalausweis", "personalausweis", "vorname"),
                 form("form_submit", "personalausweis", "personalausweis")])
    # B: 5 visitors search "sperrmüll", one field error, submit.
    for _ in range(5):
        b.visit([search("sperrmüll", 2), page("/leistungen/sperrmuell"),
                 page("/online/sperrmuell"),
                 form("form_start", "sperrmuell", "sperrmuell", "name"),
                 form("form_error", "sperrmuell", "sperrmuell", "strasse"),
                 form("form_submit", "sperrmuell", "sperrmuell")])
    # C: 5 visitors loop: schwimmbad → hallenbad → hallenbad, no results, leave.
    for _ in range(5):
        b.visit([page("/"), search("schwimmbad", 0), search("hallenbad", 0),
                 search("hallenbad", 0)])
    # D: 2 visitors search a rare query (below k): never shown.
    for _ in range(2):
        b.visit([search(SECRET_QUERY, 0)])
    # E: 5 visitors start the Personalausweis form, fail at "geburtsdatum", give up.
    for _ in range(5):
        b.visit([page("/leistungen/personalausweis"), page("/online/personalausweis"),
                 form("form_start", "personalausweis", "personalausweis", "vorname"),
                 form("form_error", "personalausweis", "personalausweis", "geburtsdatum")])
    # F: 5 visitors hit a dead link from the home page, rage-click on the Wohngeld page.
    for _ in range(5):
        b.visit([page("/"), ("not_found", "/kaputt", {}), page("/leistungen/wohngeld"),
                 ("rage_click", "/leistungen/wohngeld", {})])
    # G: 5 visitors go back from the Wohngeld page within 3 seconds.
    for _ in range(5):
        b.visit([page("/"), page("/leistungen/wohngeld", dwell=3), page("/")])
    # H: 5 visitors search a word no lexicon knows, open the Wohngeld page, download there.
    for _ in range(5):
        b.visit([search("zetteltrommel", 1), page("/leistungen/wohngeld"),
                 ("download", "/leistungen/wohngeld", {
                     "target": f"https://{SITE}/fileadmin/wohngeld-antrag.pdf"})])
    return b.events


# Expected figures, counted from `build` by hand.
EXPECTED_SEARCH = {
    "searches": 9 + 5 + 15 + 2 + 5,          # A, B, C, D, H
    "no_results": 15 + 2,                     # C, D
    "exits": 5 + 2,                           # C (last hallenbad), D
    "refinements": 3 + 10,                    # A ausweis→perso; C twice per visitor
    "to_service": 6 + 5 + 5,                  # A, B, H
}
EXPECTED_SPCF = {"personalausweis": (9, 6), "sperrmuell": (5, 5)}  # (searches, submits)


def write_events(path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for ev in build():
            fh.write(json.dumps(ev, ensure_ascii=False) + "\n")
