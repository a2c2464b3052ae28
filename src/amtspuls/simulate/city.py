"""The site map of www.musterstadt.de: service pages, online forms, PDFs, hubs,
news, events, static assets, old URLs that redirect, and how big each response is."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from amtspuls.catalog import load_catalog
from amtspuls.simulate.data import load
from amtspuls.simulate.geo import DISTRICTS, Street, make_streets
from amtspuls.simulate.urls import (
    ASSET,
    CONFIRM,
    EXTERNAL,
    FORM,
    NEWS,
    OLD,
    PAGE,
    PDF,
    Urls,
    slugify,
)

SITE = "Stadt Musterstadt"
NOT_FOUND_TITLE = f"Seite nicht gefunden | {SITE}"
NOT_FOUND_SIZE = 11_482


def _site() -> dict:
    return load("site.toml")


@dataclass
class ServiceInfo:
    idx: int
    id: str
    name: str
    department: str
    description: str
    slug: str
    weight: float
    seo: float
    nav: float
    fields: tuple[str, ...]
    field_error: tuple[float, ...]
    form_share: float
    pdf: bool
    outlinks: tuple[str, ...]
    terms: tuple[str, ...]
    colloquial: tuple[str, ...]
    actions: tuple[str, ...]
    english: tuple[str, ...]
    season: tuple[tuple[float, float, float], ...]
    page: int = 0
    form_page: int = 0
    confirm_page: int = 0
    pdf_url: int = 0
    outlink_urls: tuple[int, ...] = ()
    dept: int = 0
    hubs: tuple[int, ...] = ()  # url ids of pages that list this service


@dataclass
class NewsItem:
    url: int
    title: str
    published: date
    popularity: float
    service: int  # index or -1
    viral: bool = False


@dataclass
class City:
    urls: Urls
    services: list[ServiceInfo]
    by_id: dict[str, int]
    home: int
    az: int
    news_index: int
    events_index: int
    dept_pages: list[int]
    dept_names: list[str]
    hub_pages: list[int]
    general_pages: list[int]
    general_weights: np.ndarray
    events: list[int]
    news: list[NewsItem]
    streets: list[Street]
    assets_base: list[int]
    asset_print: int
    asset_touch: int
    asset_hero_desktop: int
    asset_hero_mobile: int
    asset_icons: int
    old_urls: dict[int, int] = field(default_factory=dict)  # service idx -> old url id
    short_urls: dict[int, int] = field(default_factory=dict)  # service idx -> short url id
    redirect_target: dict[int, int] = field(default_factory=dict)  # old url -> new url
    temporary: set[int] = field(default_factory=set)  # redirects answering 302
    field_names: list[str] = field(default_factory=list)
    field_index: dict[str, int] = field(default_factory=dict)
    error_matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    field_matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int32))
    n_fields: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    @property
    def n(self) -> int:
        return len(self.services)

    def field_id(self, name: str) -> int:
        fid = self.field_index.get(name)
        if fid is None:
            fid = len(self.field_names)
            self.field_names.append(name)
            self.field_index[name] = fid
        return fid

    def add_news(
        self, title: str, published: date, popularity: float, service: int, viral: bool = False
    ) -> NewsItem:
        slug = slugify(title)[:80].rstrip("-")
        path = f"/aktuelles/{published.year}/{slug}"
        uid = self.urls.add(path, NEWS, f"{title} | {SITE}", 15_000 + (len(slug) * 97) % 6000)
        item = NewsItem(uid, title, published, popularity, service, viral)
        self.news.append(item)
        return item


def _expand_fields(spec: list[str], groups: dict[str, list[str]]) -> tuple[str, ...]:
    out: list[str] = []
    for item in spec:
        if item.startswith("@"):
            out.extend(groups[item[1:]])
        else:
            out.append(item)
    return tuple(dict.fromkeys(out))


def _default_terms(name: str) -> tuple[str, ...]:
    words = [w for w in name.lower().replace("(", " ").replace(")", " ").split() if len(w) > 3]
    return tuple(dict.fromkeys([name.lower(), *words]))


def build_city(start: date, days: int, host: str, rnd: random.Random) -> City:
    urls = Urls(host)
    data = load("services.toml")
    forms = load("forms.toml")
    groups: dict[str, list[str]] = forms["groups"]
    rates: dict[str, float] = forms["error_rates"]
    catalog = load_catalog()

    home = urls.add("/", PAGE, f"Startseite | {SITE}", 32_418)
    az = urls.add("/leistungen", PAGE, f"Leistungen von A bis Z | {SITE}", 41_220)
    news_index = urls.add("/aktuelles", PAGE, f"Aktuelles | {SITE}", 24_650)
    events_index = urls.add("/veranstaltungen", PAGE, f"Veranstaltungen | {SITE}", 27_304)

    general_pages, general_weights = [], []
    site = _site()
    for path, title, weight in site["general_pages"]:
        general_pages.append(urls.add(path, PAGE, f"{title} | {SITE}", rnd.randint(12_000, 26_000)))
        general_weights.append(weight)

    dept_names = sorted({s.department for s in catalog})
    dept_pages = [
        urls.add(
            f"/rathaus/aemter/{slugify(d)}", PAGE, f"{d} | {SITE}", rnd.randint(15_000, 24_000)
        )
        for d in dept_names
    ]
    hub_pages = [
        urls.add(f"/lebenslagen/{slugify(h)}", PAGE, f"{h} | {SITE}", rnd.randint(16_000, 28_000))
        for h in site["lebenslagen"]
    ]
    hub_of: dict[str, list[int]] = {}
    for hub_url, members in zip(hub_pages, site["lebenslagen"].values(), strict=True):
        for sid in members:
            hub_of.setdefault(sid, []).append(hub_url)

    services: list[ServiceInfo] = []
    for i, s in enumerate(catalog):
        d = data.get(s.id, {})
        fields = _expand_fields(d.get("form", []), groups)
        svc = ServiceInfo(
            idx=i,
            id=s.id,
            name=s.name_de,
            department=s.department,
            description=s.description_de,
            slug=s.slug,
            weight=float(d.get("weight", 2.0)),
            seo=float(d.get("seo", 0.55)),
            nav=float(d.get("nav", 1.0)),
            fields=fields,
            field_error=tuple(float(rates.get(f, rates["default"])) for f in fields),
            form_share=float(d.get("form_share", 0.5)) if fields else 0.0,
            pdf=bool(d.get("pdf", False)),
            outlinks=tuple(d.get("outlinks", ())),
            terms=tuple(d.get("terms", ())) or _default_terms(s.name_de),
            colloquial=tuple(d.get("colloquial", ())),
            actions=tuple(d.get("actions", ())) or ("online", "kosten"),
            english=tuple(d.get("english", ())),
            season=tuple(tuple(x) for x in d.get("season", ())),
        )
        svc.page = urls.add(
            f"/leistungen/{s.slug}", PAGE, f"{s.name_de} | {SITE}", rnd.randint(14_000, 26_000)
        )
        if fields:
            svc.form_page = urls.add(
                f"/online/{s.slug}",
                FORM,
                f"Online-Antrag: {s.name_de} | {SITE}",
                rnd.randint(21_000, 34_000),
            )
            svc.confirm_page = urls.add(
                f"/online/{s.slug}/danke", CONFIRM, f"Vielen Dank für Ihren Antrag | {SITE}", 9_814
            )
        if svc.pdf:
            svc.pdf_url = urls.add(
                f"/fileadmin/formulare/{s.slug}.pdf", PDF, "", rnd.randint(80_000, 1_400_000)
            )
        svc.outlink_urls = tuple(urls.add(o, EXTERNAL) for o in svc.outlinks)
        svc.dept = dept_names.index(s.department)
        svc.hubs = (dept_pages[svc.dept], *hub_of.get(s.id, ()))
        services.append(svc)

    events = [
        urls.add(
            f"/veranstaltungen/{slugify(t)}", PAGE, f"{t} | {SITE}", rnd.randint(13_000, 19_000)
        )
        for t in site["events"]
    ]

    def asset(p: tuple[str, int]) -> int:
        return urls.add(p[0], ASSET, "", p[1])

    city = City(
        urls=urls,
        services=services,
        by_id={s.id: s.idx for s in services},
        home=home,
        az=az,
        news_index=news_index,
        events_index=events_index,
        dept_pages=dept_pages,
        dept_names=dept_names,
        hub_pages=hub_pages,
        general_pages=general_pages,
        general_weights=np.asarray(general_weights, dtype=np.float64),
        events=events,
        news=[],
        streets=make_streets(rnd),
        assets_base=[asset(a) for a in site["assets"]["base"]],
        asset_print=asset(site["assets"]["print"]),
        asset_touch=asset(site["assets"]["touch"]),
        asset_hero_desktop=asset(site["assets"]["hero_desktop"]),
        asset_hero_mobile=asset(site["assets"]["hero_mobile"]),
        asset_icons=asset(site["assets"]["icons"]),
    )
    _build_news(city, start, days, rnd)
    _build_old_urls(city, rnd)
    _build_field_matrix(city)
    return city


def _build_news(city: City, start: date, days: int, rnd: random.Random) -> None:
    """News items published from 90 days before the run to its end, about one every 2–3 days."""
    first = start - timedelta(days=90)
    total = days + 90
    n = max(8, int(total / 2.4))
    streets = city.streets
    used: set[str] = set()
    for _ in range(n * 4):
        if len(city.news) >= n:
            break
        title, sid, pop, window = rnd.choice(_site()["news"])
        day = first + timedelta(days=rnd.randrange(total))
        if window:
            # Seasonal item: pick a day inside its window (same or next year).
            lo, hi = window
            cands = [
                first + timedelta(days=k)
                for k in range(total)
                if lo <= (first + timedelta(days=k)).timetuple().tm_yday <= hi
            ]
            if not cands:
                continue
            day = rnd.choice(cands)
        when = day + timedelta(days=rnd.randint(3, 20))
        text = title.format(
            year=day.year + (1 if day.month == 12 else 0),
            day=f"{when.day}. {_MONTHS[when.month - 1]}",
            street=rnd.choice(streets).name,
            district=rnd.choice(DISTRICTS)[0],
        )
        if text in used:
            continue
        used.add(text)
        city.add_news(text, day, pop * rnd.uniform(0.6, 1.6), city.by_id.get(sid, -1))
    city.news.sort(key=lambda x: (x.published, x.url))


_MONTHS = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)


def _build_old_urls(city: City, rnd: random.Random) -> None:
    """Pages of the previous CMS still linked from elsewhere: they answer 301."""
    urls = city.urls
    old_home = urls.add("/index.php", OLD)
    city.redirect_target[old_home] = city.home
    order = sorted(city.services, key=lambda s: -s.weight)
    for svc in order[:30]:
        if rnd.random() < 0.75:
            old = urls.add(f"/buergerservice/dienstleistungen/{svc.slug}.html", OLD)
            city.old_urls[svc.idx] = old
            city.redirect_target[old] = svc.page
        # Short URLs printed on letters ("www.musterstadt.de/grundsteuer").
        short = urls.add(f"/{svc.slug}", OLD)
        city.short_urls[svc.idx] = short
        city.redirect_target[short] = svc.page
    # "/termin" points to the current appointment form: a temporary redirect.
    termin = city.by_id.get("buergerbuero_termin")
    if termin is not None and city.services[termin].form_page:
        short = urls.add("/termin", OLD)
        city.short_urls[termin] = short
        city.redirect_target[short] = city.services[termin].page
        city.temporary.add(short)


def _build_field_matrix(city: City) -> None:
    width = max((len(s.fields) for s in city.services), default=1) or 1
    err = np.zeros((city.n, width), dtype=np.float64)
    fid = np.full((city.n, width), -1, dtype=np.int32)
    nf = np.zeros(city.n, dtype=np.int32)
    for s in city.services:
        nf[s.idx] = len(s.fields)
        for j, (f, r) in enumerate(zip(s.fields, s.field_error, strict=True)):
            err[s.idx, j] = r
            fid[s.idx, j] = city.field_id(f)
    city.field_id("_submit")  # the outcome of a failed submission (truth only)
    city.error_matrix = err
    city.field_matrix = fid
    city.n_fields = nf
