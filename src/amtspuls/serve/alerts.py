"""Alert delivery: the watch loop (incremental detection per site), alert storage, and an
outbox of deliveries to webhooks (JSON POST; a chat payload that Slack, Mattermost,
Matrix hookshot and Teams connectors accept; a Teams adaptive card) and e-mail (SMTP).

A delivery that fails is retried with exponential backoff (30 s doubling up to an hour,
for a day); its state (`pending`, `retrying`, `delivered`, `failed`, `skipped`) is kept
in the store and shown with the alert in `GET /api/v1/alerts`, so a receiver that is down
loses nothing. Alerts are deduplicated by the detector (one alert per signal and
direction; a recurrence within the cool-down continues the open one and sends nothing).
"""

from __future__ import annotations

import json
import logging
import smtplib
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from amtspuls import __version__
from amtspuls.analyze.detect.config import WarningConfig, load_warning_config
from amtspuls.analyze.detect.detector import minute_of
from amtspuls.analyze.detect.runner import Stream
from amtspuls.config import Settings
from amtspuls.errors import UserError
from amtspuls.mail import SEVERITIES, Email, parse_email, send_message
from amtspuls.model import Site
from amtspuls.store import DuckDBStore
from amtspuls.store import signals as sq

log = logging.getLogger("amtspuls.alerts")

WEBHOOK_FORMATS = ("json", "chat", "slack", "matrix", "teams")
BACKOFF_FIRST_SECONDS = 30.0
BACKOFF_MAX_SECONDS = 3600.0
GIVE_UP_AFTER = timedelta(hours=24)
TIMEOUT_SECONDS = 10.0


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Webhook:
    url: str
    format: str = "json"
    min_severity: str = "warning"
    name: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str:
        """How the delivery is shown: the channel's name, never the URL (which often
        carries a token)."""
        if self.name:
            return self.name
        host = urllib.parse.urlsplit(self.url).hostname or "?"
        return f"webhook:{host}"


Channel = Webhook | Email


def _severity_ok(severity: str, minimum: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(minimum)


def parse_channels(raw: dict[str, Any]) -> list[Channel]:
    """Channels from the `[warning]` table: `[[warning.webhook]]` and `[warning.email]`
    (documented in docs/fruehwarnung.md)."""
    out: list[Channel] = []
    hooks = raw.get("webhook", [])
    if isinstance(hooks, dict):
        hooks = [hooks]
    for i, h in enumerate(hooks):
        if not isinstance(h, dict) or not h.get("url"):
            raise UserError(f"amtspuls.toml [[warning.webhook]] #{i + 1}: url is missing")
        fmt = str(h.get("format", "json")).lower()
        if fmt not in WEBHOOK_FORMATS:
            raise UserError(f"webhook format must be one of {', '.join(WEBHOOK_FORMATS)}")
        sev = str(h.get("min_severity", "warning"))
        if sev not in SEVERITIES:
            raise UserError(f"min_severity must be one of {', '.join(SEVERITIES)}")
        out.append(Webhook(url=str(h["url"]), format=fmt, min_severity=sev,
                           name=str(h.get("name", "")),
                           headers={str(k): str(v) for k, v in h.get("headers", {}).items()}))
    mail = raw.get("email")
    if mail:
        out.append(parse_email(mail))
    return out


# -- payloads ------------------------------------------------------------------------------

def alert_text(alert: dict[str, Any], site: str) -> tuple[str, str]:
    """(subject, body) in German."""
    ev = alert.get("evidence") or {}
    sev = {"critical": "KRITISCH", "warning": "Warnung", "info": "Hinweis"}.get(
        alert["severity"], alert["severity"])
    subject = f"[amtspuls] {sev}: {ev.get('message_de', alert['signal'])}"
    lines = [
        ev.get("message_de", ""),
        "",
        f"Website: {site}",
        f"Signal: {alert['signal']} ({ev.get('label_de', '')}), "
        f"Leistung: {alert['service_id']}" + (f", Bereich: {ev['page_group']}"
                                             if ev.get("page_group") else ""),
        f"Richtung: {'Anstieg' if alert['direction'] == 'up' else 'Einbruch'}",
        f"Beginn (UTC): {alert['start']}, erkannt: {ev.get('detected_at', '')}",
        f"Beobachtet: {alert['observed']}, erwartet: {alert['expected']}, "
        f"Score: {alert['score']}",
    ]
    if ev.get("top_paths"):
        lines.append("Meistaufgerufene Seiten: " + ", ".join(
            f"{p['path']} ({p['pageviews']})" for p in ev["top_paths"]))
    return subject, "\n".join(lines).strip() + "\n"


def webhook_payload(alert: dict[str, Any], site: str, fmt: str) -> dict[str, Any]:
    subject, body = alert_text(alert, site)
    if fmt == "json":
        return {"site": site, "alert": alert, "source": f"amtspuls {__version__}"}
    if fmt == "teams":
        return {
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": subject, "weight": "Bolder",
                         "wrap": True},
                        {"type": "TextBlock", "text": body, "wrap": True},
                    ],
                },
            }],
        }
    # chat (slack, matrix): `text` is what Slack, Mattermost, Matrix hookshot's generic
    # webhooks and Teams' incoming-webhook connector show.
    html = f"<p><strong>{_escape(subject)}</strong></p><pre>{_escape(body)}</pre>"
    return {"text": f"{subject}\n{body}", "html": html, "username": "amtspuls"}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send_webhook(hook: Webhook, payload: dict[str, Any]) -> None:
    data = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    req = urllib.request.Request(hook.url, data=data, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"amtspuls/{__version__}", **hook.headers})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:
            if resp.status >= 300:
                raise OSError(f"HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        raise OSError(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise OSError(str(exc.reason)) from None


def send_email(mail: Email, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = mail.sender
    msg["To"] = ", ".join(mail.to)
    msg.set_content(body)
    send_message(mail, msg)


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones."""
    return min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, attempts - 1))


# -- the watcher ---------------------------------------------------------------------------

def stored_alert(row: dict[str, Any], site: str | None = None) -> dict[str, Any]:
    """An alert row as the API and the channels show it."""
    def z(ts: datetime) -> str:
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ")

    ev = dict(row["evidence"] or {})
    ev.setdefault("detected_at", z(row["detected_ts"]))
    out = {
        "id": int(row["id"]),
        "site": site,
        "signal": row["signal"],
        "service_id": row["service_id"],
        "start": z(row["start_ts"]),
        "end": z(row["end_ts"]),
        "observed": row["observed"],
        "expected": row["expected"],
        "score": row["score"],
        "severity": row["severity"],
        "direction": row["direction"],
        "evidence": ev,
        "status": row["status"],
        "detected_at": z(row["detected_ts"]),
    }
    return out


def _ts(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).replace(tzinfo=None)


class Watcher:
    """Runs detection rounds for sites and delivers their alerts. Thread-safe enough for
    one loop thread next to the server's request threads (writes take the store lock)."""

    def __init__(self, settings: Settings, store: DuckDBStore,
                 wcfg: WarningConfig | None = None, channels: list[Channel] | None = None,
                 sites: list[str] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.wcfg = wcfg or load_warning_config(settings)
        self.channels = channels if channels is not None else parse_channels(self.wcfg.channels)
        self.only = sites
        self.streams: dict[int, Stream] = {}
        self.lock = threading.Lock()
        self.stats: dict[str, Any] = {"rounds": 0, "alerts": 0, "last_round": None}

    def _sites(self) -> list[Site]:
        if self.only:
            return [self.store.ensure_site(d) for d in self.only]
        return self.store.list_sites()

    def round(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Score new minutes of every site, store alerts, queue and send deliveries."""
        with self.lock:
            changed: list[dict[str, Any]] = []
            for site in self._sites():
                stream = self.streams.get(site.id)
                if stream is None:
                    stream = self.streams[site.id] = Stream(
                        self.store, site, self.wcfg, self.settings.session_timeout_minutes)
                try:
                    events = stream.tick(now)
                except Exception:
                    log.exception("detection failed for %s", site.domain)
                    continue
                for kind, alert in events:
                    changed.append(self._store(site, kind, alert, now))
            self.deliver_due(now)
            self.stats["rounds"] += 1
            self.stats["alerts"] += sum(1 for c in changed if c["event"] == "raised")
            self.stats["last_round"] = (now or datetime.now(UTC)).isoformat()
            return changed

    def _store(self, site: Site, kind: str, alert: dict[str, Any], now: datetime | None
               ) -> dict[str, Any]:
        row = {
            "uid": alert["uid"], "signal": alert["signal"], "service_id": alert["service_id"],
            "key": alert["key"], "direction": alert["direction"],
            "start_ts": _ts(alert["start"]), "end_ts": _ts(alert["end"]),
            "detected_ts": _ts(alert["evidence"]["detected_at"]),
            "observed": alert["observed"], "expected": alert["expected"],
            "score": alert["score"], "severity": alert["severity"],
            "status": alert["status"], "evidence": alert["evidence"],
        }
        alert_id, created = sq.upsert_alert(self.store, site.id, row)
        if kind == "raised" and created:
            now_naive = (now.astimezone(UTC).replace(tzinfo=None) if now and now.tzinfo
                         else now) or _now()
            stale = (minute_of(now_naive) - minute_of(row["detected_ts"])
                     > self.wcfg.stale_minutes)
            for ch in self.channels:
                if not _severity_ok(alert["severity"], ch.min_severity):
                    continue
                if stale:
                    sq.add_delivery(self.store, alert_id, _kind(ch), ch.target, "skipped",
                                    None, "veraltet (nachträglich erkannt)")
                else:
                    sq.add_delivery(self.store, alert_id, _kind(ch), ch.target, "pending",
                                    now_naive)
        return {"event": kind, "id": alert_id, "site": site.domain, **alert}

    def deliver_due(self, now: datetime | None = None) -> int:
        """Try every delivery that is due; returns how many succeeded."""
        now_naive = (now.astimezone(UTC).replace(tzinfo=None) if now and now.tzinfo
                     else now) or _now()
        by_target = {(_kind(c), c.target): c for c in self.channels}
        sent = 0
        for d in sq.due_deliveries(self.store, now_naive):
            ch = by_target.get((d["channel"], d["target"]))
            attempts = int(d["attempts"]) + 1
            if ch is None:
                sq.update_delivery(self.store, d["alert_id"], d["channel"], d["target"],
                                   "failed", attempts, None, "Kanal nicht mehr konfiguriert",
                                   None)
                continue
            row = sq.get_alert(self.store, int(d["alert_id"]))
            if row is None:
                continue
            site = self.store.site_by_id(int(row["site_id"]))
            domain = site.domain if site else str(row["site_id"])
            alert = stored_alert(row, domain)
            try:
                if isinstance(ch, Webhook):
                    send_webhook(ch, webhook_payload(alert, domain, ch.format))
                else:
                    subject, body = alert_text(alert, domain)
                    send_email(ch, subject, body)
            except (OSError, smtplib.SMTPException) as exc:
                created = d["created"] or now_naive
                give_up = now_naive - created >= GIVE_UP_AFTER
                nxt = None if give_up else now_naive + timedelta(seconds=backoff(attempts))
                sq.update_delivery(self.store, d["alert_id"], d["channel"], d["target"],
                                   "failed" if give_up else "retrying", attempts, nxt,
                                   str(exc)[:300], None)
                log.warning("alert %s to %s failed (%s), attempt %d", d["alert_id"],
                            d["target"], exc, attempts)
                continue
            sq.update_delivery(self.store, d["alert_id"], d["channel"], d["target"],
                               "delivered", attempts, None, None, now_naive)
            sent += 1
        return sent

    def close(self) -> None:
        with self.lock:
            for stream in self.streams.values():
                try:
                    stream.save()
                except Exception:
                    log.exception("saving detector state failed")


def _kind(ch: Channel) -> str:
    return "webhook" if isinstance(ch, Webhook) else "email"


def alerts_with_deliveries(store: DuckDBStore, site: Site | None = None,
                           status: str | None = None, since: datetime | None = None,
                           limit: int = 100) -> list[dict[str, Any]]:
    return with_deliveries(store, sq.list_alerts(store, site.id if site else None, status,
                                                 since, limit))


def with_deliveries(store: DuckDBStore, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alert rows as shown, each with its deliveries (channel, target, state …)."""
    deliveries = sq.deliveries_for(store, [int(r["id"]) for r in rows])
    domains = {s.id: s.domain for s in store.list_sites()}

    def z(ts: datetime | None) -> str | None:
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if ts else None

    out = []
    for r in rows:
        a = stored_alert(r, domains.get(int(r["site_id"])))
        a["deliveries"] = [
            {"channel": d["channel"], "target": d["target"], "state": d["state"],
             "attempts": int(d["attempts"]), "next_attempt": z(d["next_attempt"]),
             "last_error": d["last_error"], "delivered_at": z(d["delivered_ts"])}
            for d in deliveries.get(int(r["id"]), [])
        ]
        out.append(a)
    return out
