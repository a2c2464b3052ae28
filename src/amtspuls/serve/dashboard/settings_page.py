"""Einstellungen: sites, the service catalogue, users and roles, API tokens, retention,
alert channels and the audit log. Admins only; every change is written to the audit log."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from amtspuls.catalog.site import catalog_path, load_site_catalog
from amtspuls.serve.dashboard.context import PageContext
from amtspuls.serve.dashboard.model import Action, Col, Page, Section, Table
from amtspuls.store import users as us

RETENTION_KEYS = ("retention_months", "request_raw_retention_days", "salt_keep_hours",
                  "k_anonymity", "session_hours", "session_idle_minutes", "api_auth",
                  "cookie_secure", "login_max_failures", "transparency_page")


def _redact(target: Any) -> str:
    """A channel target without secrets (a webhook URL shows scheme and host only)."""
    text = str(target)
    if "://" in text:
        parts = urlsplit(text)
        return f"{parts.scheme}://{parts.hostname or ''}/…"
    return text


def settings_page(ctx: PageContext) -> Page:
    t = ctx.t
    store = ctx.store
    page = Page("einstellungen", t("Einstellungen"))
    sites = store.list_sites()
    site_names = {s.id: s.domain for s in sites}
    page.sections.append(Section("websites", t("Websites"), tables=[Table(
        "websites", t("Websites"),
        [Col("id", "ID", "int"), Col("domain", t("Domain"), "code"),
         Col("timezone", t("Zeitzone"))],
        [{"id": s.id, "domain": s.domain, "timezone": s.timezone} for s in sites])]))
    cat = load_site_catalog(ctx.settings.data_dir, ctx.site.domain)
    path = catalog_path(ctx.settings.data_dir, ctx.site.domain)
    page.sections.append(Section(
        "katalog", f"{t('Leistungskatalog')}: {ctx.site.domain}",
        text=f"{path} ({cat.source})",
        tables=[Table("katalog", t("Leistungskatalog"),
                      [Col("id", "ID", "code"), Col("name", t("Name")),
                       Col("department", t("Fachbereich")), Col("slugs", "Slugs", "code"),
                       Col("patterns", "Patterns", "code")],
                      [{"id": sid, "name": s.service.name_de,
                        "department": s.service.department, "slugs": ", ".join(s.slugs),
                        "patterns": ", ".join(s.patterns)}
                       for sid, s in sorted(cat.services.items())])]))
    me = ctx.principal.user.id

    def user_actions(row: dict) -> list[Action]:
        if row["id"] == me:
            return []
        base = f"/dashboard/einstellungen/benutzer/{row['id']}"
        flip = t("entsperren") if row["disabled"] else t("sperren")
        return [Action(flip, base + "/sperre", {"disabled": "0" if row["disabled"] else "1"},
                       danger=not row["disabled"])]

    users = []
    for u in us.list_users(store):
        roles = ", ".join(f"{site_names.get(s, t('alle Websites')) if s else t('alle Websites')}:"
                          f" {r}" for s, r in sorted(u.roles.items()))
        users.append({"id": u.id, "name": u.name, "roles": roles,
                      "status": t("gesperrt") if u.disabled else t("aktiv"),
                      "disabled": u.disabled})
    page.sections.append(Section("benutzer", t("Benutzer"), tables=[Table(
        "benutzer", t("Benutzer"),
        [Col("name", t("Name"), "code"), Col("roles", t("Rolle")), Col("status", t("Status"))],
        users, actions=user_actions)]))

    def token_actions(row: dict) -> list[Action]:
        if row["revoked"] is not None:
            return []
        return [Action(t("widerrufen!"), f"/dashboard/einstellungen/tokens/{row['id']}/widerruf",
                       danger=True)]

    page.sections.append(Section("tokens", t("API-Tokens"), tables=[Table(
        "tokens", t("API-Tokens"),
        [Col("user", t("Benutzer"), "code"), Col("name", t("Bezeichnung")),
         Col("prefix", "Prefix", "code"), Col("created", t("erstellt"), "datetime"),
         Col("last_used", t("zuletzt benutzt"), "datetime"),
         Col("revoked", t("widerrufen"), "datetime")],
        us.list_tokens(store), actions=token_actions)]))
    page.sections.append(Section(
        "aufbewahrung", t("Aufbewahrung"),
        text=t("Ändern in amtspuls.toml im Datenverzeichnis (oder AMTSPULS_*-Umgebungsvariablen)."),
        tables=[Table("aufbewahrung", t("Aufbewahrung"),
                      [Col("key", t("Einstellung"), "code"), Col("value", t("Wert"), "code")],
                      [{"key": k, "value": str(getattr(ctx.settings, k, ""))}
                       for k in RETENTION_KEYS])]))
    channels: list[dict] = []
    try:
        from amtspuls.analyze.detect.config import load_warning_config

        for kind, cfg in load_warning_config(ctx.settings).channels.items():
            targets = cfg if isinstance(cfg, list) else [cfg]
            for c in targets:
                target = (c.get("url") or c.get("to") or c.get("address") or "?") \
                    if isinstance(c, dict) else c
                if isinstance(target, list):
                    target = ", ".join(map(str, target))
                channels.append({"channel": kind, "target": _redact(target)})
    except Exception as exc:  # a broken [warning] table must not hide the settings page
        channels.append({"channel": "?", "target": str(exc)[:200]})
    page.sections.append(Section("kanaele", t("Warnkanäle"), text=t(
        "Ändern in amtspuls.toml im Datenverzeichnis (oder AMTSPULS_*-Umgebungsvariablen)."),
        tables=[Table("kanaele", t("Warnkanäle"),
                      [Col("channel", t("Kanal"), "code"), Col("target", t("Ziel"), "code")],
                      channels)]))
    audit = [{"ts": r["ts"], "actor": r["actor"], "action": r["action"],
              "target": r["target"], "site": site_names.get(r["site_id"] or 0, ""),
              "ok": "✓" if r["ok"] else "✗", "client": r["client"]}
             for r in us.list_audit(store, 100)]
    page.sections.append(Section("protokoll", t("Protokoll"), tables=[Table(
        "protokoll", t("Protokoll"),
        [Col("ts", t("Zeit"), "datetime"), Col("actor", t("Wer"), "code"),
         Col("action", t("Aktion"), "code"), Col("target", t("Ziel"), "code"),
         Col("site", t("Website"), "code"), Col("ok", t("Erfolg")),
         Col("client", "Client", "code")], audit)]))
    return page
