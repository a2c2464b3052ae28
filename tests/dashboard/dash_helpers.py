"""Helpers for the dashboard tests: a real `amtspuls serve` subprocess on loopback, filled
from a small simulator run, with users of every role."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
SITE = "www.musterstadt.de"
OTHER_SITE = "www.nachbarstadt.de"
CHROME_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/126.0.0.0 Safari/537.36")
PASSWORDS = {"anna": "anna-geheim-123", "alex": "alex-geheim-123", "vera": "vera-geheim-123",
             "nora": "nora-geheim-123", "rita": "rita-geheim-123"}
# Searches meant to run script if they were ever shown as markup.
XSS_QUERIES = ('<script>window.__xss=1;alert("xss")</script>',
               '"><img src=x onerror="window.__xss=2;alert(2)">')
PAGES = ("", "leistungen", "suche", "wege", "fruehwarnung", "prognose", "empfehlungen",
         "anliegen", "einstellungen")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMTSPULS_")}
    env.update(extra or {})
    return env


def cli(data: Path, *args: str, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "amtspuls.cli", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=120, input=stdin,
                          env=clean_env(env))


def xss_events(day: date) -> list[dict[str, Any]]:
    """25 visitors (25 networks) searching each payload: well above k-anonymity (k = 5)
    and among the top queries of the search page."""
    out = []
    for i in range(25):
        ts = datetime(day.year, day.month, day.day, 11, 0, tzinfo=UTC) + timedelta(minutes=i)
        for q in XSS_QUERIES:
            out.append({"ts": ts.isoformat(), "ip": f"198.18.{i}.9", "ua": CHROME_UA,
                        "type": "search", "query": q, "results": 0,
                        "url": f"https://{SITE}/suche?q=x"})
    return out


@dataclass
class Served:
    data: Path
    port: int
    date_from: date
    date_to: date
    tokens: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, user: str = "anna", **params: Any) -> httpx.Response:
        return httpx.get(self.base + path, params=params, timeout=60,
                         headers={"Authorization": f"Bearer {self.tokens[user]}"})

    def range(self) -> dict[str, str]:
        return {"site": SITE, "from": self.date_from.isoformat(),
                "to": self.date_to.isoformat()}

    @contextmanager
    def login(self, user: str) -> Iterator[httpx.Client]:
        """An HTTP client with a session of `user` (through the login form)."""
        with httpx.Client(base_url=self.base, timeout=60, follow_redirects=False) as client:
            page = client.get("/anmelden")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            r = client.post("/anmelden", data={"name": user, "password": PASSWORDS[user],
                                               "csrf": token, "next": "/dashboard/"},
                            headers={"Origin": self.base})
            assert r.status_code == 303, r.text[:500]
            yield client

    def start(self, env: dict[str, str] | None = None) -> None:
        self.log = self.data.parent / f"serve-{self.port}.log"
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "amtspuls.cli", "--data", str(self.data), "serve",
             "--port", str(self.port)], stdout=out, stderr=subprocess.STDOUT,
            env=clean_env(env))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(self.base + "/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not come up")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None


def build(folder: Path) -> Served:
    """Simulate 14 days up to yesterday, import them (and the script payloads), add users."""
    today = datetime.now(UTC).date()
    start = today - timedelta(days=14)
    sim = folder / "sim"
    data = folder / "data"
    run = cli(data, "simulate", "--out", str(sim), "--days", "14", "--visits-per-day", "800",
              "--seed", "5", "--start", start.isoformat())
    assert run.returncode == 0, run.stderr
    payloads = folder / "xss.jsonl.gz"
    with gzip.open(payloads, "wt", encoding="utf-8") as fh:
        for e in xss_events(today - timedelta(days=2)):
            fh.write(json.dumps(e) + "\n")
    assert cli(data, "site", "add", SITE).returncode == 0
    for events in (sim / "events.jsonl.gz", payloads):
        run = cli(data, "import-events", str(events), "--site", SITE, "--json")
        assert run.returncode == 0, run.stderr
    served = Served(data, free_port(), today - timedelta(days=14), today - timedelta(days=1))
    # users and tokens in this process (a CLI call each would cost seconds)
    from amtspuls.config import load_settings
    from amtspuls.serve.auth import add_user, issue_token
    from amtspuls.store import open_store

    store = open_store(load_settings(data))
    try:
        store.add_site(OTHER_SITE)
        for name, role, site in (("anna", "admin", None), ("alex", "analyst", SITE),
                                 ("vera", "viewer", SITE), ("nora", "viewer", OTHER_SITE),
                                 ("rita", "viewer", SITE)):
            add_user(store, name, role, PASSWORDS[name], site, actor="test")
        for name in ("anna", "vera", "nora"):
            served.tokens[name] = issue_token(store, name, "test")[0]
        add_requests(store, store.get_site(SITE).id, today - timedelta(days=3))
    finally:
        store.close()
    return served


REQUESTS = (  # id, service, lat, long, text, duplicate group
    ("2026-T1", "strassenschaden", 51.2441, 7.7925, "Schlagloch Händelstraße", "g1"),
    ("2026-T2", "strassenschaden", 51.2442, 7.7927, "Loch in der Händelstraße", "g1"),
    ("2026-T3", "illegale_muellablagerung", 51.2773, 7.7935, XSS_QUERIES[1], None),
    ("2026-T4", "laermbelaestigung", 51.2601, 7.8012, "Lärm von der Baustelle", None),
    ("2026-T5", "strassenbeleuchtung", 51.2512, 7.7711, "Laterne dunkel", None),
)


def add_requests(store: Any, site_id: int, day: date) -> None:
    """Five service requests with triage (two duplicates) straight into the store, as the
    Open311 intake would leave them."""
    from amtspuls.store.requests_store import RequestStore

    rs = RequestStore(store)
    when = datetime(day.year, day.month, day.day, 9, 0)
    rs.insert_requests([
        {"site_id": site_id, "service_request_id": rid, "token": f"tok-{rid}",
         "service_code": svc, "service_id": svc, "description": text, "lat": lat,
         "long": lon, "address_string": "Musterstadt", "status": "open",
         "requested_datetime": when + timedelta(minutes=i), "source": "test"}
        for i, (rid, svc, lat, lon, text, _g) in enumerate(REQUESTS)])
    rs.save_triage(site_id, [
        {"service_request_id": rid, "model_version": "test",
         "category": [{"service_id": svc, "p": 0.9}], "priority": 3 - i % 3,
         "priority_reasons": ["Test"], "duplicate_group": group, "duplicates": []}
        for i, (rid, svc, _lat, _lon, _t, group) in enumerate(REQUESTS)])
