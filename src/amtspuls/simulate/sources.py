"""Where visits come from: intents, traffic sources and their referrer URLs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amtspuls.simulate.data import load
from amtspuls.simulate.urls import EXTERNAL
from amtspuls.simulate.world import World

SERVICE, NEWS_I, EVENTS_I, BROWSE, MISSING = range(5)
S_SEARCH, S_DIRECT, S_REFERRAL, S_SOCIAL, S_CAMPAIGN = range(5)
SOURCE_KEYS = ("search", "direct", "referral", "social", "campaign")

# Source mix per intent (service intents use TrafficConfig.source_shares).
INTENT_SOURCES = {
    NEWS_I: (0.3, 0.32, 0.1, 0.28, 0.0),
    EVENTS_I: (0.45, 0.4, 0.1, 0.05, 0.0),
    BROWSE: (0.4, 0.55, 0.05, 0.0, 0.0),
    MISSING: (0.55, 0.45, 0.0, 0.0, 0.0),
}
# Median dwell seconds per page kind, and the log-normal spread.


def choice(rng: np.random.Generator, p, n: int) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    c = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(c, rng.random(n), side="right"), len(p) - 1)


@dataclass
class Sources:
    engine_ids: np.ndarray
    engine_p: np.ndarray
    social_ids: np.ndarray
    social_p: np.ndarray
    referral_ids: np.ndarray
    referral_p: np.ndarray


def sources(world: World) -> Sources:
    urls = world.city.urls
    table = load("site.toml")["sources"]
    shares = world.cfg.traffic.search_engine_shares
    ids, ps = [], []
    for eng, share in shares.items():
        for u, p in table["engines"].get(eng, [[f"https://www.{eng}.com/", 1.0]]):
            ids.append(urls.add(u, EXTERNAL))
            ps.append(share * p)

    def pairs(name: str) -> tuple[np.ndarray, np.ndarray]:
        rows = table[name]
        return (np.array([urls.add(u, EXTERNAL) for u, _ in rows], dtype=np.int64),
                np.array([p for _, p in rows], dtype=np.float64))  # fmt: skip

    soc, soc_p = pairs("social")
    ref, ref_p = pairs("referral")
    return Sources(np.array(ids, dtype=np.int64), np.array(ps), soc, soc_p, ref, ref_p)
