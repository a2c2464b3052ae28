"""Acknowledging and closing early-warning alerts: the store function with a real store,
the watch loop's upsert keeping an acknowledgement, the dashboard buttons and
`POST /api/v1/alerts/{id}/acknowledge` (in-process app, no server)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from amtspuls.config import load_settings
from amtspuls.errors import UserError
from amtspuls.store import open_store
from amtspuls.store.alert_status import set_alert_status
from amtspuls.store.signals import get_alert, list_alerts, upsert_alert

SITE = "www.musterstadt.de"
OTHER = "www.nachbarstadt.de"


def _alert(uid: str, status: str = "open", observed: float = 40.0) -> dict:
    start = datetime(2026, 3, 2, 9, 0)
    return {"uid": uid, "signal": "visits", "service_id": "personalausweis",
            "key": "personalausweis", "direction": "up", "start_ts": start,
            "end_ts": start + timedelta(minutes=30), "detected_ts": start + timedelta(minutes=30),
            "observed": observed, "expected": 10.0, "score": 9.0, "severity": "warning",
            "status": status, "evidence": {"message_de": "Mehr Besuche als üblich"}}


@pytest.fixture()
def store(tmp_path):
    s = open_store(load_settings(tmp_path / "data"))
    s.add_site(SITE)
    s.add_site(OTHER)
    try:
        yield s
    finally:
        s.close()


def test_acknowledged_stays_while_the_alert_continues_and_closes_with_it(store):
    site = store.get_site(SITE)
    alert_id, created = upsert_alert(store, site.id, _alert("visits|personalausweis|up|1"))
    assert created
    row = set_alert_status(store, alert_id, "acknowledge", "alex")
    assert row["status"] == "acknowledged"
    assert set_alert_status(store, alert_id, "acknowledge")["status"] == "acknowledged"
    # the watch loop reports the same alert again, still going on
    again, created = upsert_alert(store, site.id,
                                  _alert("visits|personalausweis|up|1", "open", 55.0))
    assert (again, created) == (alert_id, False)
    row = get_alert(store, alert_id)
    assert row["status"] == "acknowledged" and row["observed"] == 55.0
    assert [a["id"] for a in list_alerts(store, site.id, status="acknowledged")] == [alert_id]
    # … and its end is taken over
    upsert_alert(store, site.id, _alert("visits|personalausweis|up|1", "closed"))
    assert get_alert(store, alert_id)["status"] == "closed"
    with pytest.raises(UserError):
        set_alert_status(store, alert_id, "acknowledge")
    # a recurrence (reopened by the detector) needs attention again
    upsert_alert(store, site.id, _alert("visits|personalausweis|up|1", "open"))
    assert get_alert(store, alert_id)["status"] == "open"


def test_close_unknown_actions_and_other_sites(store):
    site, other = store.get_site(SITE), store.get_site(OTHER)
    alert_id, _ = upsert_alert(store, site.id, _alert("forms|x|up|2"))
    with pytest.raises(UserError, match="unknown alert action"):
        set_alert_status(store, alert_id, "acknowledged")
    with pytest.raises(UserError, match="no alert"):
        set_alert_status(store, alert_id + 100, "close")
    with pytest.raises(UserError, match="no alert"):  # another site's alert by id
        set_alert_status(store, alert_id, "close", site_id=other.id)
    assert get_alert(store, alert_id)["status"] == "open"
    assert set_alert_status(store, alert_id, "close", site_id=site.id)["status"] == "closed"
    # a closed alert is not reopened by a person (the detector does that)
    with pytest.raises(UserError):
        set_alert_status(store, alert_id, "acknowledge")


def _login(client, name: str, password: str) -> str:
    page = client.get("/anmelden")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/anmelden", data={"name": name, "password": password, "csrf": token,
                                       "next": "/dashboard/"},
                    headers={"Origin": "http://127.0.0.1"})
    assert r.status_code == 303, r.text[:300]
    page = client.get("/dashboard/fruehwarnung", params={"site": SITE, "from": "2026-03-01",
                                                         "to": "2026-03-03"})
    assert page.status_code == 200
    return page.text


def test_dashboard_buttons_and_api(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from amtspuls.serve.app import create_app
    from amtspuls.serve.auth import add_user, issue_token

    monkeypatch.setenv("AMTSPULS_WATCH", "0")
    settings = load_settings(tmp_path / "data")
    with TestClient(create_app(settings), base_url="http://127.0.0.1",
                    follow_redirects=False) as client:
        store = client.app.state.store
        site = store.add_site(SITE)
        store.add_site(OTHER)
        first, _ = upsert_alert(store, site.id, _alert("visits|a|up|1"))
        second, _ = upsert_alert(store, site.id, _alert("visits|b|up|2"))
        add_user(store, "alex", "analyst", "alex-geheim-123", SITE, actor="test")
        add_user(store, "nick", "analyst", "nick-geheim-123", OTHER, actor="test")
        add_user(store, "vera", "viewer", "vera-geheim-123", SITE, actor="test")
        tokens = {n: issue_token(store, n, "test")[0] for n in ("alex", "nick", "vera")}

        html = _login(client, "alex", "alex-geheim-123")
        assert f'action="/dashboard/fruehwarnung/{first}"' in html
        csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        r = client.post(f"/dashboard/fruehwarnung/{first}",
                        data={"csrf": csrf, "site": SITE, "action": "acknowledge"},
                        headers={"Origin": "http://127.0.0.1"})
        assert r.status_code == 303 and "ok=1" in r.headers["location"]
        assert get_alert(store, first)["status"] == "acknowledged"
        html = client.get("/dashboard/fruehwarnung",
                          params={"site": SITE, "from": "2026-03-01", "to": "2026-03-03"}).text
        # an acknowledged alert can still be closed, no longer acknowledged
        assert html.count('name="action" value="acknowledge"') == 1
        assert html.count('name="action" value="close"') == 2
        r = client.post(f"/dashboard/fruehwarnung/{first}",
                        data={"site": SITE, "action": "close"},
                        headers={"Origin": "http://127.0.0.1"})
        assert r.status_code == 403  # no CSRF token
        client.post("/abmelden", data={"csrf": csrf}, headers={"Origin": "http://127.0.0.1"})

        def ack(user: str, alert_id: int, **params: str):
            return client.post(f"/api/v1/alerts/{alert_id}/acknowledge", params=params,
                               headers={"Authorization": f"Bearer {tokens[user]}"})

        assert ack("vera", second, site=SITE).status_code == 403  # viewer
        assert ack("alex", second).status_code == 403  # no site: a role for all sites needed
        assert ack("nick", second, site=OTHER).status_code == 404  # not that site's alert
        r = ack("alex", second, site=SITE)
        assert r.status_code == 200 and r.json()["status"] == "acknowledged"
        assert ack("alex", second, site=SITE).status_code == 200  # again: no change
        assert ack("alex", 999, site=SITE).status_code == 404
        listed = client.get("/api/v1/alerts", params={"site": SITE, "status": "acknowledged"},
                            headers={"Authorization": f"Bearer {tokens['alex']}"})
        assert {a["id"] for a in listed.json()} == {first, second}
        actions = [a["action"] for a in store.query("SELECT action FROM audit_log")]
        assert "fruehwarnung.acknowledge" in actions and "alert.acknowledge" in actions
