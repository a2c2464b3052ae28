"""Synthetic per-minute facts for the detector (the shape `store.signals.minute_facts`
returns) and events written straight into a real DuckDB store."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

PAGES_SCHEMA = pa.schema([("session_id", pa.uint64()), ("metric", pa.string()),
                          ("key", pa.string()), ("minute", pa.int64())])
COUNTS_SCHEMA = pa.schema([("minute", pa.int64()), ("metric", pa.string()),
                           ("key", pa.string()), ("n", pa.int64())])
START = datetime(2026, 2, 2, tzinfo=UTC)  # a Monday, no holidays for weeks


def profile(minute: int) -> float:
    """Relative traffic at an epoch minute: busy working days, quiet nights/weekends."""
    dt = datetime.fromtimestamp(minute * 60, tz=UTC)
    hour = (dt.hour + 1) % 24  # CET
    day = 0.6 if dt.weekday() >= 5 else 1.0
    return day * (0.08 + math.exp(-0.5 * ((hour - 11.5) / 3.2) ** 2))


class Synth:
    """Visits per service (each a new session), form starts/submits, submission errors.

    rates: service -> mean visits per day; spikes: (service, start minute, end minute,
    factor); outages: (service, start, end, share of submissions failing); social:
    service -> share of its visits that enter from a social network (in a spike, the
    extra visits all do when its factor is given as `("social", factor)`)."""

    def __init__(self, rates: dict[str, float], seed: int = 1, spikes=(), outages=(),
                 social: dict[str, float] | None = None) -> None:
        self.rates = rates
        self.social = social or {}
        self.rng = np.random.default_rng(seed)
        self.spikes = list(spikes)
        self.outages = list(outages)
        self.next_session = 1
        mins = np.arange(0, 7 * 1440)
        self.norm = float(np.mean([profile(int(m)) for m in mins[::7]])) * 1440

    def facts(self, lo: int, hi: int) -> tuple[pa.Table, pa.Table]:
        pages = {"session_id": [], "metric": [], "key": [], "minute": []}
        counts: dict[tuple[int, str, str], int] = {}
        prof = np.array([profile(m) for m in range(lo, hi)])
        for svc, per_day in self.rates.items():
            lam = per_day * prof / self.norm
            base = lam
            lam_social = lam * self.social.get(svc, 0.0)
            for s_svc, a, b, factor in self.spikes:
                if s_svc == svc:
                    m = np.arange(lo, hi)
                    inside = (m >= a) & (m < b)
                    if isinstance(factor, tuple):
                        factor = factor[1]
                        lam_social = np.where(inside, lam_social + base * (factor - 1),
                                              lam_social)
                    lam = np.where(inside, lam * factor, lam)
            n = self.rng.poisson(lam)
            social = np.zeros_like(n)
            if np.any(lam_social > 0):  # (no extra draws: other tests keep their numbers)
                social = self.rng.binomial(n, np.clip(lam_social / np.maximum(lam, 1e-12), 0, 1))
            for i in np.flatnonzero(n):
                minute = lo + int(i)
                fail = 0.0
                for o_svc, a, b, share in self.outages:
                    if o_svc == svc and a <= minute < b:
                        fail = share
                for j in range(int(n[i])):
                    sid = self.next_session
                    self.next_session += 1
                    pages["session_id"].append(sid)
                    pages["metric"].append("visits")
                    pages["key"].append(svc)
                    pages["minute"].append(minute)
                    if j < social[i]:
                        pages["session_id"].append(sid)
                        pages["metric"].append("entries_social")
                        pages["key"].append(svc)
                        pages["minute"].append(minute)
                    if self.rng.random() < 0.5:
                        counts[(minute, "form_starts", svc)] = counts.get(
                            (minute, "form_starts", svc), 0) + 1
                        if self.rng.random() < fail:
                            pages["session_id"].append(sid)
                            pages["metric"].append("submit_errors")
                            pages["key"].append(svc)
                            pages["minute"].append(minute)
                        elif self.rng.random() < 0.8:
                            counts[(minute, "form_submits", svc)] = counts.get(
                                (minute, "form_submits", svc), 0) + 1
        return (pa.table(pages, schema=PAGES_SCHEMA),
                pa.table({"minute": [k[0] for k in counts], "metric": [k[1] for k in counts],
                          "key": [k[2] for k in counts], "n": list(counts.values())},
                         schema=COUNTS_SCHEMA))


def minute_at(day: int, hour: int, minute: int = 0) -> int:
    """Epoch minute of START + day days at hour:minute UTC."""
    return int((START + timedelta(days=day, hours=hour, minutes=minute)).timestamp() // 60)


def insert_events(store, site_id: int, rows: list[dict]) -> None:
    """Write events directly (tests of the store-side queries)."""
    cols = ["site_id", "ts", "type", "visitor_id", "session_id", "path", "service_id", "form",
            "field", "search_results", "referrer_class"]
    data = {c: [r.get(c) for r in rows] for c in cols}
    data["site_id"] = [site_id] * len(rows)
    table = pa.table({
        "site_id": pa.array(data["site_id"], pa.int32()),
        "ts": pa.array(data["ts"], pa.timestamp("us")),
        "type": pa.array(data["type"], pa.string()),
        "visitor_id": pa.array([r.get("visitor_id", r["session_id"]) for r in rows], pa.uint64()),
        "session_id": pa.array(data["session_id"], pa.uint64()),
        "path": pa.array(data["path"], pa.string()),
        "service_id": pa.array(data["service_id"], pa.string()),
        "form": pa.array(data["form"], pa.string()),
        "field": pa.array(data["field"], pa.string()),
        "search_results": pa.array(data["search_results"], pa.int32()),
        "referrer_class": pa.array(data["referrer_class"], pa.string()),
    })
    with store._lock:
        store.con.register("new_rows", table)
        store.con.execute("INSERT INTO events BY NAME SELECT * FROM new_rows")
        store.con.unregister("new_rows")
