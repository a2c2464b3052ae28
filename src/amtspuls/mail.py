"""E-mail over SMTP (a shared module), used by alert delivery (`serve.alerts`) and the
weekly report (`recommend.weekly`): the `[warning.email]` channel of DATA/amtspuls.toml
(documented in docs/fruehwarnung.md) and the delivery of one message."""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from amtspuls.config import Settings, read_section
from amtspuls.errors import UserError

SEVERITIES = ("info", "warning", "critical")
SMTP_TIMEOUT_SECONDS = 10.0


@dataclass
class Email:
    to: list[str]
    host: str = "localhost"
    port: int = 25
    sender: str = "amtspuls@localhost"
    starttls: bool = False
    use_ssl: bool = False
    username: str = ""
    password_env: str = "AMTSPULS_SMTP_PASSWORD"
    min_severity: str = "warning"
    name: str = ""

    @property
    def target(self) -> str:
        return self.name or "email:" + ",".join(self.to)


def parse_email(mail: dict[str, Any], require_to: bool = True) -> Email:
    """The e-mail channel from the `[warning.email]` table."""
    to = mail.get("to", [])
    if isinstance(to, str):
        to = [t.strip() for t in to.split(",") if t.strip()]
    if not to and require_to:
        raise UserError("amtspuls.toml [warning.email]: to is missing")
    sev = str(mail.get("min_severity", "warning"))
    if sev not in SEVERITIES:
        raise UserError(f"min_severity must be one of {', '.join(SEVERITIES)}")
    return Email(
        to=[str(t) for t in to], host=str(mail.get("host", "localhost")),
        port=int(mail.get("port", 25)), sender=str(mail.get("from", "amtspuls@localhost")),
        starttls=bool(mail.get("starttls", False)), use_ssl=bool(mail.get("ssl", False)),
        username=str(mail.get("username", "")),
        password_env=str(mail.get("password_env", "AMTSPULS_SMTP_PASSWORD")),
        min_severity=sev, name=str(mail.get("name", "")))


def configured_email(settings: Settings) -> Email | None:
    """The `[warning.email]` channel of DATA/amtspuls.toml, or None; its recipient list may
    be empty (a caller that brings its own recipients needs only the server settings)."""
    table = read_section(settings, "warning").get("email")
    if not table:
        return None
    if not isinstance(table, dict):
        raise UserError("amtspuls.toml: [warning.email] must be a table")
    return parse_email(table, require_to=False)


def send_message(mail: Email, msg: EmailMessage) -> None:
    """Deliver `msg` through the channel's SMTP server (SSL or STARTTLS, login if a user
    name is set; the password comes from the environment variable `password_env`).
    Raises OSError or smtplib.SMTPException on failure."""
    if mail.use_ssl:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(mail.host, mail.port,
                                              timeout=SMTP_TIMEOUT_SECONDS,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(mail.host, mail.port, timeout=SMTP_TIMEOUT_SECONDS)
    try:
        if mail.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if mail.username:
            smtp.login(mail.username, os.environ.get(mail.password_env, ""))
        smtp.send_message(msg)
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
