"""Incidents: storms, form outages, letter campaigns / new rules, viral news (and heat
waves in summer). Each has a start and end and adds visits (or failures) in its window."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from amtspuls.simulate.city import City
from amtspuls.simulate.config import SimConfig
from amtspuls.simulate.data import load
from amtspuls.simulate.geo import DISTRICTS
from amtspuls.simulate.timeline import MS_DAY, MS_HOUR, Calendar, Clock

MS_MIN = 60_000

STORM_SERVICES = (
    ("strassensperrung", 0.3),
    ("baum_gefahr", 0.25),
    ("hochwasser", 0.18),
    ("warnungen", 0.17),
    ("strassenschaden", 0.1),
)
HEAT_SERVICES = (("hitze_schutz", 0.7), ("trinkwasser", 0.15), ("warnungen", 0.15))
CAMPAIGN_SERVICES = (
    "grundsteuer",
    "hundesteuer",
    "wohngeld",
    "zweitwohnungsteuer",
    "muelltonne",
    "bewohnerparkausweis",
    "kita_gebuehren",
    "abfallkalender",
)
# Busy forms, so that an outage is visible in a day's data.
OUTAGE_SERVICES = ("sperrmuell", "wohnsitz_anmelden", "buergerbuero_termin", "personalausweis")


@dataclass
class Incident:
    kind: str  # storm | form_outage | campaign | viral_news | heat
    service: int  # main service index, -1 for none
    start_ms: int
    end_ms: int
    magnitude: float
    services: list[tuple[int, float]] = field(default_factory=list)  # (service, share) of visits
    news_url: int = 0
    label: str = ""
    # Expected extra visits per minute from start_ms (len = minutes of the affected span).
    rate: np.ndarray = field(default_factory=lambda: np.zeros(0))
    extra_visits: int = 0
    failed_submissions: int = 0


def schedule(
    cfg: SimConfig, city: City, clock: Clock, cal: Calendar, rnd: random.Random
) -> list[Incident]:
    ic = cfg.incidents
    scale = cfg.days / 90.0
    kinds: list[str] = []
    for kind, per in (
        ("storm", ic.storms_per_90d),
        ("form_outage", ic.outages_per_90d),
        ("campaign", ic.campaigns_per_90d),
        ("viral_news", ic.virals_per_90d),
    ):
        n = max(1, int(round(per * scale))) if per > 0 else 0
        kinds.extend([kind] * n)
    summer = [d for d in clock.dates[: cfg.days] if 170 <= d.timetuple().tm_yday <= 235]
    if len(summer) >= 5:
        kinds.append("heat")
    rnd.shuffle(kinds)
    # One slot of the run per incident so that they do not hide each other.
    # Keep clear of the run's edges so that every incident has a baseline around it.
    margin = min(3, max(0, cfg.days // 10)) * MS_DAY
    span = cfg.days * MS_DAY - 2 * margin
    t_run0 = int(clock.day_start[0]) + margin
    slot = span / max(1, len(kinds))
    out = []
    for k, kind in enumerate(kinds):
        lo = t_run0 + int(k * slot)
        hi = t_run0 + int((k + 1) * slot)
        out.append(_make(kind, cfg, city, cal, rnd, lo, hi))
    out.sort(key=lambda x: (x.start_ms, x.kind))
    for inc in out:
        _rates(inc, cfg, city, cal, clock)
    return out


def _pick_time(rnd: random.Random, lo: int, hi: int, dur: int, hours: tuple[int, int]) -> int:
    """A start in [lo, hi - dur] whose local hour (approximate, CET) is within hours."""
    latest = hi - dur if hi - dur > lo else hi  # long incidents may outlast their slot
    for _ in range(50):
        t = rnd.randint(lo, latest)
        hour = ((t // MS_HOUR) + 1) % 24
        if hours[0] <= hour < hours[1]:
            return t
    return rnd.randint(lo, latest)


def _ids(city: City, names) -> list[int]:
    return [city.by_id[n] for n in names if n in city.by_id]


def _make(
    kind: str, cfg: SimConfig, city: City, cal: Calendar, rnd: random.Random, lo: int, hi: int
) -> Incident:
    ic = cfg.incidents
    if kind == "storm":
        dur = int(rnd.uniform(*ic.storm_hours) * MS_HOUR)
        start = _pick_time(rnd, lo, hi, dur, (0, 24))
        svcs = [(city.by_id[s], w) for s, w in STORM_SERVICES if s in city.by_id]
        return Incident(
            kind,
            svcs[0][0] if svcs else -1,
            start,
            start + dur,
            round(rnd.uniform(*ic.storm_magnitude), 2),
            svcs,
            label=rnd.choice(("Sturmtief", "Orkanböen", "Unwetter mit Starkregen")),
        )
    if kind == "heat":
        dur = int(rnd.uniform(3, 6) * MS_DAY)
        start = _pick_time(rnd, lo, hi, dur, (9, 12))
        svcs = [(city.by_id[s], w) for s, w in HEAT_SERVICES if s in city.by_id]
        return Incident(
            kind,
            svcs[0][0] if svcs else -1,
            start,
            start + dur,
            round(rnd.uniform(4.0, 8.0), 2),
            svcs,
            label="Hitzewelle",
        )
    if kind == "form_outage":
        cands = [i for i in _ids(city, OUTAGE_SERVICES) if city.services[i].fields]
        svc = rnd.choice(cands)
        dur = int(rnd.uniform(*ic.outage_hours) * MS_HOUR)
        start = _pick_time(rnd, lo, hi, dur, (7, 16))
        return Incident(
            kind,
            svc,
            start,
            start + dur,
            round(rnd.uniform(*ic.outage_magnitude), 2),
            label="Formularserver antwortet mit Fehler 503",
        )
    if kind == "campaign":
        svc = rnd.choice(_ids(city, CAMPAIGN_SERVICES))
        dur = int(rnd.uniform(*ic.campaign_days) * MS_DAY)
        start = _pick_time(rnd, lo, hi, dur, (9, 11))
        label = rnd.choice(
            ("Anschreiben an alle Haushalte", "Neue Satzung tritt in Kraft", "Bescheide verschickt")
        )
        return Incident(
            kind,
            svc,
            start,
            start + dur,
            round(rnd.uniform(*ic.campaign_magnitude), 2),
            [(svc, 1.0)],
            label=label,
        )
    # viral news
    dur = int(rnd.uniform(*ic.viral_hours) * MS_HOUR)
    start = _pick_time(rnd, lo, hi, dur, (6, 20))
    title = rnd.choice(load("site.toml")["viral"]).format(district=rnd.choice(DISTRICTS)[0])
    pub = datetime.fromtimestamp(start / 1000, tz=UTC).date()
    item = city.add_news(title, pub, 0.5, -1, viral=True)
    return Incident(
        kind,
        -1,
        start,
        start + dur,
        round(rnd.uniform(*ic.viral_magnitude), 3),
        news_url=item.url,
        label=title,
    )


def _rates(inc: Incident, cfg: SimConfig, city: City, cal: Calendar, clock: Clock) -> None:
    """Expected extra visits per minute over the incident's span (plus aftermath)."""
    v = cfg.traffic.visits_per_day
    dur_min = max(1, (inc.end_ms - inc.start_ms) // MS_MIN)
    if inc.kind == "form_outage":
        inc.rate = np.zeros(0)
        return
    total_w = sum(s.weight for s in city.services)
    share_svc = cfg.traffic.service_share
    if inc.kind in ("storm", "heat"):
        tail = dur_min // 3
        x = np.arange(dur_min + tail, dtype=np.float64)
        shape = np.where(
            x < dur_min,
            np.sin(np.pi * np.minimum(x / dur_min, 1.0)) ** 0.5,
            np.exp(-(x - dur_min) / max(1.0, tail / 3)) * 0.3,
        )
        w_aff = sum(city.services[s].weight for s, _ in inc.services)
        base_per_min = v * share_svc * w_aff / total_w / 1440.0
        rate = (inc.magnitude - 1.0) * base_per_min * shape
    elif inc.kind == "campaign":
        x = np.arange(dur_min, dtype=np.float64)
        days = x / 1440.0
        tau = max(1.0, dur_min / 1440.0 / 3.0)
        decay = np.exp(-np.maximum(days - 0.5, 0) / tau) * np.minimum(1.0, (days + 0.05) / 0.5)
        base_per_min = v * share_svc * city.services[inc.service].weight / total_w / 1440.0
        rate = (inc.magnitude - 1.0) * base_per_min * decay
    else:  # viral_news
        x = np.arange(dur_min, dtype=np.float64)
        rise = max(30.0, dur_min * 0.06)
        tau = max(60.0, dur_min / 3.5)
        shape = np.where(x < rise, x / rise, np.exp(-(x - rise) / tau))
        rate = inc.magnitude * v * shape / max(1e-9, shape.sum())
    # Follow the local hour-of-day rhythm, softened (people read news at night less).
    t = inc.start_ms + np.arange(len(rate), dtype=np.int64) * MS_MIN
    hours = clock.local_hour(t)
    prof = cal.hourly[False]
    prof = prof / prof.mean()
    soft = 0.35 + 0.65 * prof[hours]
    if inc.kind == "viral_news":
        rate = rate * soft / max(1e-9, (rate * soft).sum()) * rate.sum()
    else:
        rate = rate * soft
    inc.rate = rate


def incident_visits(
    incidents: list[Incident], rng: np.random.Generator, t0: int, t1: int
) -> list[tuple[int, np.ndarray]]:
    """Extra visit start times (UTC ms) in [t0, t1) for each incident with traffic."""
    out = []
    for k, inc in enumerate(incidents):
        if not len(inc.rate):
            continue
        a = max(0, (t0 - inc.start_ms) // MS_MIN)
        b = min(len(inc.rate), math.ceil((t1 - inc.start_ms) / MS_MIN))
        if b <= a:
            continue
        counts = rng.poisson(inc.rate[a:b])
        total = int(counts.sum())
        if not total:
            continue
        minutes = np.repeat(np.arange(a, b, dtype=np.int64), counts)
        times = inc.start_ms + minutes * MS_MIN + rng.integers(0, MS_MIN, total)
        times = times[(times >= t0) & (times < t1)]
        inc.extra_visits += len(times)
        out.append((k, np.sort(times)))
    return out


def outage_failure(incidents: list[Incident], service: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Probability that a submission of `service` at `t` fails."""
    p = np.zeros(len(t))
    for inc in incidents:
        if inc.kind != "form_outage":
            continue
        hit = (service == inc.service) & (t >= inc.start_ms) & (t < inc.end_ms)
        p = np.where(hit, np.maximum(p, inc.magnitude), p)
    return p
