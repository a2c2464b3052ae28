"""Jinja2 rendering (autoescaped) of the dashboard's templates."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from amtspuls import __version__
from amtspuls.serve.auth import principal_of
from amtspuls.serve.dashboard.i18n import translator
from amtspuls.serve.dashboard.model import fmt_number, raw_value

_env = Environment(
    loader=PackageLoader("amtspuls.serve", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

NAV = (  # (slug, German title); the titles go through the catalogue
    ("", "Übersicht"), ("leistungen", "Leistungen"), ("suche", "Suche & Themen"),
    ("wege", "Wege & Formulare"), ("fruehwarnung", "Frühwarnung"),
    ("prognose", "Prognose & Personal"), ("empfehlungen", "Empfehlungen"),
    ("anliegen", "Anliegen"), ("einstellungen", "Einstellungen"),
)


def render(request: Request, template: str, status: int = 200, lang: str = "de",
           headers: dict[str, str] | None = None, **values: Any) -> HTMLResponse:
    principal = principal_of(request)
    t = translator(lang)

    def fmt(value: Any, kind: str = "int") -> str:
        return fmt_number(value, kind, lang)

    html = _env.get_template(template).render(
        request=request, lang=lang, t=t, fmt=fmt, raw=raw_value, version=__version__,
        nonce=getattr(request.state, "csp_nonce", ""), principal=principal,
        csrf=principal.csrf if principal else "", nav=NAV, **values)
    return HTMLResponse(html, status_code=status, headers=headers)
