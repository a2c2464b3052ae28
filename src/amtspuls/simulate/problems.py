"""Problems built into the site: services hard to find by navigation, form fields
that fail often, dead internal links; and the fix applied on the fix date."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from amtspuls.simulate.city import City
from amtspuls.simulate.config import SimConfig
from amtspuls.simulate.urls import REMOVED, slugify


@dataclass
class FindabilityProblem:
    service: int
    nav_success: float
    normal_nav_success: float
    fixed_on: date | None = None


@dataclass
class FormProblem:
    service: int
    field_pos: int
    field: str
    error_rate: float
    normal_error_rate: float
    fixed_on: date | None = None


@dataclass
class BrokenLink:
    url: int
    path: str
    referrers: list[int]
    service: int = -1


@dataclass
class Problems:
    findability: list[FindabilityProblem] = field(default_factory=list)
    forms: list[FormProblem] = field(default_factory=list)
    broken: list[BrokenLink] = field(default_factory=list)
    broken_by_referrer: dict[int, list[int]] = field(default_factory=dict)


_FORMATTED = (
    "geburtsdatum",
    "iban",
    "kennzeichen",
    "einzugsdatum",
    "kassenzeichen",
    "fin",
    "steuernummer",
    "chipnummer",
    "plz",
    "ausweisnummer",
    "telefon",
    "foto",
    "kind_geburtsdatum",
    "datum_von",
    "einkommen",
)


def choose_problems(city: City, cfg: SimConfig, rnd: random.Random) -> Problems:
    pc = cfg.problems
    fix = cfg.fix_date
    out = Problems()
    with_form = [s for s in city.services if s.fields]
    mid = [s for s in with_form if 4 <= s.weight <= 16]
    rnd.shuffle(mid)
    for k, s in enumerate(mid[: pc.findability_problems]):
        out.findability.append(
            FindabilityProblem(
                s.idx,
                cfg.journey.problem_nav_success,
                cfg.journey.nav_success,
                fix if k == 0 else None,
            )
        )
    taken = {p.service for p in out.findability}
    popular = [s for s in with_form if s.weight >= 6 and s.idx not in taken]
    rnd.shuffle(popular)
    for k, s in enumerate(popular[: pc.form_problems]):
        cands = [j for j, f in enumerate(s.fields) if f in _FORMATTED] or list(range(len(s.fields)))
        j = rnd.choice(cands)
        rate = round(rnd.uniform(*pc.form_problem_error_rate), 3)
        out.forms.append(
            FormProblem(s.idx, j, s.fields[j], rate, s.field_error[j], fix if k == 0 else None)
        )
    _broken_links(city, pc.broken_links, rnd, out)
    return out


def _broken_links(city: City, n: int, rnd: random.Random, out: Problems) -> None:
    urls = city.urls
    busy = sorted((s for s in city.services if s.weight >= 6), key=lambda s: (-s.weight, s.id))
    rnd.shuffle(busy)
    news = [x for x in city.news if not x.viral]
    made = 0
    kinds = ["pdf", "subpage", "news", "contact", "subpage", "pdf"]
    for k in range(n * 3):
        if made >= n:
            break
        kind = kinds[k % len(kinds)]
        svc = busy[k % len(busy)]
        owner = -1
        if kind == "pdf" and svc.pdf:
            path = f"/fileadmin/formulare/{svc.slug}-{rnd.choice((2021, 2022, 2023))}.pdf"
            refs = [svc.page]
        elif kind == "subpage":
            sub = rnd.choice(("gebuehren", "unterlagen", "faq", "ansprechpartner"))
            path = f"/leistungen/{svc.slug}/{sub}"
            refs = [svc.page, *svc.hubs[:1]]
        elif kind == "news" and news:
            item = rnd.choice(news)
            path = (
                f"/aktuelles/{item.published.year - 1}/{slugify(item.title)[:50].rstrip('-')}-alt"
            )
            refs = [item.url]
            owner = item.service
            others = [x.url for x in news if x.url != item.url and x.service == item.service]
            if others:
                refs.append(others[0])
        elif kind == "contact":
            dept = city.dept_names[svc.dept]
            path = f"/rathaus/aemter/{slugify(dept)}/ansprechpartner.html"
            refs = [city.dept_pages[svc.dept], city.general_pages[6]]
        else:
            continue
        if path in urls.index:
            continue
        if kind != "news":
            owner = svc.idx
        uid = urls.add(path, REMOVED, "", 0)
        link = BrokenLink(uid, path, list(dict.fromkeys(refs)), owner)
        out.broken.append(link)
        for r in link.referrers:
            out.broken_by_referrer.setdefault(r, []).append(len(out.broken) - 1)
        made += 1
