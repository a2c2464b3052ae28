"""Alert delivery end to end on a real DuckDB store: the watch loop reads new events
incrementally, raises an alert for a form outage, and delivers it to a real HTTP
receiver and a real SMTP server on loopback; a receiver that is down keeps the alert
(retrying with backoff, visible in the API) until it is back."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
from fastapi.testclient import TestClient
from warning_helpers import insert_events

from amtspuls.analyze.detect.config import load_warning_config
from amtspuls.config import Settings
from amtspuls.serve.alerts import Email, Watcher, Webhook
from amtspuls.serve.app import create_app
from amtspuls.store import open_store
from amtspuls.store import signals as sq

SITE = "www.teststadt.de"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A tiny webhook receiver on loopback that records JSON bodies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(n)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _now_minute() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)


def _history(now: datetime, days: int = 9) -> list[dict]:
    """Busy days of visits and successful submissions of two forms."""
    rng = np.random.default_rng(4)
    rows = []
    sid = 1
    t = now - timedelta(days=days)
    while t < now - timedelta(minutes=40):
        hour = t.hour
        lam = 0.6 if 6 <= hour < 21 else 0.05
        for _ in range(rng.poisson(lam)):
            svc = "sperrmuell" if rng.random() < 0.6 else "wohngeld"
            ts = t + timedelta(seconds=int(rng.integers(0, 60)))
            rows.append({"ts": ts, "type": "pageview", "session_id": sid,
                         "path": f"/leistungen/{svc}", "service_id": svc})
            rows.append({"ts": ts + timedelta(seconds=20), "type": "form_start",
                         "session_id": sid, "path": f"/online/{svc}", "service_id": svc,
                         "form": svc})
            rows.append({"ts": ts + timedelta(seconds=50), "type": "form_submit",
                         "session_id": sid, "path": f"/online/{svc}", "service_id": svc,
                         "form": svc})
            sid += 1
        t += timedelta(minutes=1)
    return rows


def _outage(now: datetime, first_sid: int = 10_000_000) -> list[dict]:
    """The last half hour: every submission of sperrmuell fails."""
    rows = []
    for i in range(8):
        ts = now - timedelta(minutes=30 - 3 * i)
        rows.append({"ts": ts, "type": "form_start", "session_id": first_sid + i,
                     "path": "/online/sperrmuell", "service_id": "sperrmuell",
                     "form": "sperrmuell"})
        rows.append({"ts": ts + timedelta(seconds=40), "type": "form_error",
                     "session_id": first_sid + i, "path": "/online/sperrmuell",
                     "service_id": "sperrmuell", "form": "sperrmuell"})
    return rows


@pytest.fixture(scope="module")
def primed(tmp_path_factory):
    """A store with nine days of history, a watcher whose baseline has learnt them, and
    then a form outage in the last half hour."""
    data = tmp_path_factory.mktemp("alerts")
    settings = Settings(data_dir=data, api_auth=False)  # access control: tests/core
    store = open_store(settings)
    site = store.ensure_site(SITE)
    now = _now_minute()
    insert_events(store, site.id, _history(now))
    wcfg = load_warning_config(settings)
    wcfg.detect.bundesland = "NW"
    watcher = Watcher(settings, store, wcfg, channels=[], sites=[SITE])
    assert watcher.round(now - timedelta(minutes=39)) == []  # learns the history
    before = watcher.streams[site.id].det.next_minute
    insert_events(store, site.id, _outage(now))
    calls = []
    real = sq.minute_facts

    def spy(store_, site_id, lo, hi, *args):
        calls.append((lo, hi))
        return real(store_, site_id, lo, hi, *args)

    sq.minute_facts = spy
    try:
        changed = watcher.round(now + timedelta(minutes=1))
        n_first = len(calls)
        watcher.round(now + timedelta(minutes=1))  # nothing new to score
    finally:
        sq.minute_facts = real
    watcher.record = {"before": before, "calls": calls, "n_first": n_first, "changed": changed}
    yield settings, store, site, watcher, now
    store.close()


def test_stream_reads_only_new_minutes(primed):
    settings, store, site, watcher, now = primed
    rec = watcher.record
    calls = rec["calls"][: rec["n_first"]]
    assert calls, "the new minutes were read"
    assert int((calls[0][0] - datetime(1970, 1, 1)).total_seconds() // 60) == rec["before"]
    assert all(a[1] == b[0] for a, b in zip(calls, calls[1:], strict=False))
    assert len(rec["calls"]) == rec["n_first"], "a round without new minutes reads nothing"
    raised = [c for c in rec["changed"] if c["event"] == "raised"]
    assert any(c["signal"] == "submit_error_rate" and c["service_id"] == "sperrmuell"
               for c in raised), rec["changed"]
    assert sq.load_state(store, site.id) is not None


def _deliver_to(watcher: Watcher, store, site, channels, now: datetime) -> list[dict]:
    """Queue the open outage alert for `channels` as the watcher does when it raises."""
    rows = sq.list_alerts(store, site.id, "open")
    alert_id = next(int(r["id"]) for r in rows if r["signal"] == "submit_error_rate")
    watcher.channels = channels
    for ch in channels:
        sq.add_delivery(store, alert_id, "webhook" if isinstance(ch, Webhook) else "email",
                        ch.target, "pending", now)
    return rows


def test_webhook_delivery_to_real_receiver(primed):
    settings, store, site, watcher, now = primed
    port = free_port()
    rx = Receiver(port)
    try:
        channels = [Webhook(url=f"http://127.0.0.1:{port}/hook", name="json-hook"),
                    Webhook(url=f"http://127.0.0.1:{port}/chat", format="chat",
                            name="chat-hook")]
        _deliver_to(watcher, store, site, channels, now)
        assert watcher.deliver_due(now + timedelta(minutes=2)) == 2
    finally:
        rx.close()
    alert_doc = next(b for b in rx.bodies if "alert" in b)
    assert alert_doc["site"] == SITE
    assert {"signal", "service_id", "start", "end", "observed", "expected", "score",
            "severity", "direction", "evidence"} <= set(alert_doc["alert"])
    assert alert_doc["alert"]["service_id"] == "sperrmuell"
    chat = next(b for b in rx.bodies if "text" in b)
    assert "Sperrmüll" in chat["text"] and "KRITISCH" in chat["text"]
    with TestClient(create_app(settings, store)) as client:
        alerts = client.get("/api/v1/alerts", params={"site": SITE}).json()
    states = {d["target"]: d["state"] for a in alerts for d in a["deliveries"]}
    assert states["json-hook"] == "delivered" and states["chat-hook"] == "delivered"


def test_email_delivery_to_real_smtp_server(primed):
    from aiosmtpd.controller import Controller

    settings, store, site, watcher, now = primed
    messages = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        mail = Email(to=["leitstelle@teststadt.de"], host="127.0.0.1", port=port,
                     sender="amtspuls@teststadt.de", name="leitstelle")
        _deliver_to(watcher, store, site, [mail], now)
        assert watcher.deliver_due(now + timedelta(minutes=3)) == 1
    finally:
        ctl.stop()
    assert messages and messages[0][0] == ["leitstelle@teststadt.de"]
    assert "Subject: [amtspuls]" in messages[0][1]


def test_receiver_down_keeps_alert_and_retries(primed):
    settings, store, site, watcher, now = primed
    port = free_port()  # nothing listens here yet
    hook = Webhook(url=f"http://127.0.0.1:{port}/hook", name="down-hook")
    _deliver_to(watcher, store, site, [hook], now)
    t1 = now + timedelta(minutes=4)
    assert watcher.deliver_due(t1) == 0
    with TestClient(create_app(settings, store)) as client:
        alerts = client.get("/api/v1/alerts", params={"site": SITE}).json()
        one = client.get(f"/api/v1/alerts/{alerts[0]['id']}").json()
    assert one["id"] == alerts[0]["id"]
    d = next(d for a in alerts for d in a["deliveries"] if d["target"] == "down-hook")
    assert d["state"] == "retrying" and d["attempts"] == 1 and d["last_error"]
    nxt = datetime.fromisoformat(d["next_attempt"].replace("Z", ""))
    assert 25 <= (nxt - t1).total_seconds() <= 35  # first backoff: 30 s
    # Not due yet: nothing is tried.
    assert watcher.deliver_due(t1 + timedelta(seconds=10)) == 0
    rx = Receiver(port)
    try:
        assert watcher.deliver_due(t1 + timedelta(seconds=31)) == 1
    finally:
        rx.close()
    assert rx.bodies and rx.bodies[0]["alert"]["signal"] == "submit_error_rate"
    d = sq.deliveries_for(store, [int(alerts[0]["id"])])
    states = {x["target"]: x["state"] for rows in d.values() for x in rows}
    assert states.get("down-hook") in (None, "delivered")


def test_serve_starts_the_watch_loop(tmp_path, monkeypatch):
    (tmp_path / "amtspuls.toml").write_text(
        '[warning]\ninterval_seconds = 3600\nbundesland = "NW"\n'
        '[[warning.webhook]]\nurl = "http://127.0.0.1:9/x"\nformat = "teams"\nname = "teams"\n',
        encoding="utf-8")
    settings = Settings(data_dir=tmp_path, api_auth=False)
    with TestClient(create_app(settings)) as client:
        status = client.get("/api/v1/alerts/status").json()
        assert status["running"] is True and status["channels"] == ["teams"]
        assert client.get("/api/v1/alerts").json() == []
        assert client.get("/api/v1/alerts", params={"site": "nope.de"}).status_code == 404
    time.sleep(0.01)
