"""What every dashboard page is asked for: which site, which dates, which comparison
period, which language, and who is asking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import Request

from amtspuls.analyze.reports import local_range
from amtspuls.config import Settings
from amtspuls.errors import UserError
from amtspuls.model import Site
from amtspuls.serve.auth import Principal
from amtspuls.serve.dashboard.i18n import LANGS, translator
from amtspuls.store import DuckDBStore

LANG_COOKIE = "amtspuls_lang"
COMPARE = ("previous", "year", "none")
STATUS_FILTERS = ("open", "accepted", "done", "dismissed")
MAX_DAYS = 731


class NoSite(Exception):
    """The user may see no site (yet)."""


@dataclass
class PageContext:
    request: Request
    principal: Principal
    store: DuckDBStore
    settings: Settings
    site: Site
    sites: list[Site]
    date_from: date
    date_to: date
    compare: str
    cmp_from: date | None
    cmp_to: date | None
    lang: str
    t: Callable[[str], str]

    @property
    def k(self) -> int:
        return int(self.settings.k_anonymity)

    @property
    def role(self) -> str | None:
        return self.principal.role_for(self.site.id)

    def can(self, role: str) -> bool:
        return self.principal.can(role, self.site.id)

    def params(self, **override: str) -> dict[str, str]:
        p = {"site": self.site.domain, "from": self.date_from.isoformat(),
             "to": self.date_to.isoformat(), "compare": self.compare}
        service = self.request.query_params.get("service")
        if service:
            p["service"] = service[:100]
        status = self.request.query_params.get("status")
        if status in STATUS_FILTERS:  # the recommendations' status filter
            p["status"] = status
        p.update(override)
        return p

    def query(self, **override: str) -> str:
        return urlencode(self.params(**override))


def language(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "de"
    return lang if lang in LANGS else "de"


def comparison(date_from: date, date_to: date, compare: str) -> tuple[date | None, date | None]:
    if compare == "previous":
        days = (date_to - date_from).days + 1
        return date_from - timedelta(days=days), date_from - timedelta(days=1)
    if compare == "year":  # 52 weeks back: the same weekdays
        return date_from - timedelta(days=364), date_to - timedelta(days=364)
    return None, None


def _date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{name}: expected a date like 2026-01-31") from None


def page_context(request: Request, principal: Principal) -> PageContext:
    store: DuckDBStore = request.app.state.store
    settings: Settings = request.app.state.settings
    allowed = principal.site_ids([s.id for s in store.list_sites()])
    sites = [s for s in store.list_sites() if s.id in allowed]
    lang = language(request)
    if not sites:
        raise NoSite()
    q = request.query_params
    wanted = (q.get("site") or "").strip().lower()
    site = next((s for s in sites if s.domain == wanted), None)
    if wanted and site is None:
        raise PermissionError(wanted)
    site = site or sites[0]
    d_from, d_to = local_range(site, _date(q.get("from"), "from"), _date(q.get("to"), "to"),
                               store)
    if (d_to - d_from).days >= MAX_DAYS:
        raise UserError(f"at most {MAX_DAYS} days at once")
    compare = q.get("compare") or "previous"
    if compare not in COMPARE:
        compare = "previous"
    c_from, c_to = comparison(d_from, d_to, compare)
    return PageContext(request, principal, store, settings, site, sites, d_from, d_to,
                       compare, c_from, c_to, lang, translator(lang))
