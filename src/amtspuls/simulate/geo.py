"""Musterstadt's streets: names from word lists, straight segments in a ~8 × 6 km
area (coordinates are arbitrary; no real town's streets are reproduced)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from amtspuls.simulate.data import load

CENTER_LAT = 51.2561
CENTER_LON = 7.7483
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(CENTER_LAT))

_WORDS = load("words.toml")["streets"]
DISTRICTS: tuple[tuple[str, str], ...] = tuple((n, p) for n, p in _WORDS["districts"])


@dataclass(frozen=True)
class Street:
    name: str
    district: str
    plz: str
    lat: float  # start point
    lon: float
    bearing: float  # radians
    length_m: float

    def point(self, frac: float) -> tuple[float, float]:
        d = frac * self.length_m
        return (
            self.lat + d * math.cos(self.bearing) / M_PER_DEG_LAT,
            self.lon + d * math.sin(self.bearing) / M_PER_DEG_LON,
        )

    def house_number(self, frac: float) -> int:
        return max(1, int(frac * self.length_m / 9.0) + 1)


def offset(lat: float, lon: float, dist_m: float, bearing: float) -> tuple[float, float]:
    return (
        lat + dist_m * math.cos(bearing) / M_PER_DEG_LAT,
        lon + dist_m * math.sin(bearing) / M_PER_DEG_LON,
    )


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * M_PER_DEG_LAT
    dx = (lon2 - lon1) * M_PER_DEG_LON
    return math.hypot(dx, dy)


def make_streets(rnd: random.Random, n: int = 160) -> list[Street]:
    names: list[str] = list(_WORDS["fixed"])
    suffixes = ("straße", "weg", "straße", "allee", "gasse", "ring", "straße", "pfad")
    while len(names) < n * 3:
        r = rnd.random()
        if r < 0.4:
            base = rnd.choice(_WORDS["people"])
            names.append(f"{base}straße" if rnd.random() < 0.7 else f"{base}weg")
        elif r < 0.75:
            names.append(rnd.choice(_WORDS["nature"]) + rnd.choice(suffixes))
        elif r < 0.9:
            names.append(
                rnd.choice(_WORDS["places"]) + rnd.choice(("straße", "weg", "platz", "gasse"))
            )
        else:
            prefix = rnd.choice(("Am ", "Im ", "An der ", "Auf dem "))
            tail = rnd.choice(("Hang", "Bach", "Anger", "Kamp", "Hagen", "Sand", "Knapp", "Kreuz"))
            names.append(prefix + tail)
    unique = list(dict.fromkeys(names))[:n]
    streets = []
    for name in unique:
        district, plz = rnd.choice(DISTRICTS)
        # Points in an ellipse of ~4 × 3 km radius around the centre.
        ang = rnd.uniform(0, 2 * math.pi)
        rad = math.sqrt(rnd.random())
        lat = CENTER_LAT + rad * 3000 * math.sin(ang) / M_PER_DEG_LAT
        lon = CENTER_LON + rad * 4000 * math.cos(ang) / M_PER_DEG_LON
        length = rnd.uniform(150, 1800) if "platz" not in name.lower() else rnd.uniform(60, 150)
        streets.append(Street(name, district, plz, lat, lon, rnd.uniform(0, math.pi), length))
    return streets
