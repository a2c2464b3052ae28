"""Everything a simulated day needs, built once per run from the seed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from amtspuls.simulate.city import City, build_city
from amtspuls.simulate.clients import Clients
from amtspuls.simulate.config import SimConfig
from amtspuls.simulate.incidents import Incident, schedule
from amtspuls.simulate.population import Population, UATable
from amtspuls.simulate.problems import Problems, choose_problems
from amtspuls.simulate.queries import QueryGenerator
from amtspuls.simulate.search import SiteSearch
from amtspuls.simulate.timeline import Calendar, Clock, season_matrix
from amtspuls.simulate.truth import Truth
from amtspuls.simulate.urls import ASSET, NEWS, slugify


class Strings:
    """Interned strings (search queries)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, s: str) -> int:
        i = self.index.get(s)
        if i is None:
            i = len(self.items)
            self.items.append(s)
            self.index[s] = i
        return i


@dataclass
class DayParams:
    """Effective site properties on one day (problems apply until fixed)."""

    seo: np.ndarray
    nav: np.ndarray
    errors: np.ndarray
    problem_field: np.ndarray
    service_p: np.ndarray


@dataclass
class World:
    cfg: SimConfig
    city: City
    problems: Problems
    incidents: list[Incident]
    clock: Clock
    cal: Calendar
    season: np.ndarray
    clients: Clients
    uas: UATable
    population: Population
    qgen: QueryGenerator
    search: SiteSearch
    truth: Truth
    queries: Strings = field(default_factory=Strings)
    query_cache: dict = field(default_factory=dict)  # text -> (result, url id, query id)
    image_of: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))

    def rng(self, *keys: int) -> np.random.Generator:
        return np.random.default_rng([self.cfg.seed, *keys])

    def rnd(self, *keys: int) -> random.Random:
        return random.Random("-".join(str(k) for k in (self.cfg.seed, *keys)))

    def day_params(self, k: int, day: date) -> DayParams:
        city, cfg = self.city, self.cfg
        n = city.n
        seo = np.array([s.seo for s in city.services])
        nav = np.array([min(0.97, cfg.journey.nav_success * s.nav) for s in city.services])
        errors = city.error_matrix.copy()
        problem = np.zeros_like(errors, dtype=bool)
        for p in self.problems.findability:
            if p.fixed_on is None or day < p.fixed_on:
                nav[p.service] = p.nav_success
                seo[p.service] *= 0.3
        for p in self.problems.forms:
            if p.fixed_on is None or day < p.fixed_on:
                errors[p.service, p.field_pos] = p.error_rate
                problem[p.service, p.field_pos] = True
        w = np.array([s.weight for s in city.services]) * self.season[k, :n]
        return DayParams(seo, nav, errors, problem, w / w.sum())


def build_world(cfg: SimConfig) -> World:
    rnd = random.Random(f"{cfg.seed}-city")
    clock = Clock(cfg.start, cfg.days, cfg.timezone)
    cal = Calendar(cfg, clock)
    city = build_city(cfg.start, cfg.days, cfg.host, rnd)
    incidents = schedule(cfg, city, clock, cal, random.Random(f"{cfg.seed}-incidents"))
    problems = choose_problems(city, cfg, random.Random(f"{cfg.seed}-problems"))
    search = SiteSearch(city, cfg.queries, random.Random(f"{cfg.seed}-search"))
    season = season_matrix(cfg, city.services, clock.dates)
    uas = UATable()
    world = World(
        cfg=cfg,
        city=city,
        problems=problems,
        incidents=incidents,
        clock=clock,
        cal=cal,
        season=season,
        clients=Clients(),
        uas=uas,
        population=Population(cfg.traffic, uas),
        qgen=QueryGenerator(cfg.queries),
        search=search,
        truth=Truth(cfg, city),
    )
    # Each news page shows its own picture (not cached across articles).
    urls = city.urls
    image_of = np.zeros(len(urls), dtype=np.int64)
    for item in city.news:
        slug = slugify(item.title)[:40].rstrip("-")
        image_of[item.url] = urls.add(
            f"/fileadmin/_processed_/aktuelles/{slug}.jpg",
            ASSET,
            "",
            90_000 + (item.url * 7919) % 150_000,
        )
    assert all(urls.kinds[i.url] == NEWS for i in city.news)
    world.image_of = np.concatenate([image_of, np.zeros(len(urls) - len(image_of), np.int64)])
    return world
