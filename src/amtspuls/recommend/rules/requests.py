"""Service requests: clusters of reports about one place and one issue, which a public
status notice ("known, being handled") would have spared.

A cluster joins what triage grouped as duplicates with reports of the same service close
in place and time (a hotspot): for a status notice it does not matter whether three
reports describe exactly the same lamp or three lamps of one street."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import numpy as np

from amtspuls.analyze.triage.duplicates import haversine_m
from amtspuls.recommend.findings import NONE, Context, Finding, evidence
from amtspuls.store import recommendations as rq

# From this many reports of one issue a public status notice saves more than it costs.
MIN_CLUSTER = 3
HOTSPOT_METRES = 150.0
HOTSPOT_DAYS = 7
MAX_PLACES = 20


def _clusters(rows: list[dict]) -> list[list[int]]:
    parent = list(range(len(rows)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_group: dict[str, int] = {}
    by_service: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r["grp"]:
            union(i, by_group.setdefault(r["grp"], i))
        if r["lat"] is not None and r["long"] is not None:
            by_service[r["service_id"]].append(i)
    span = timedelta(days=HOTSPOT_DAYS)
    for idx in by_service.values():
        lat = np.array([rows[i]["lat"] for i in idx])
        lon = np.array([rows[i]["long"] for i in idx])
        for j, i in enumerate(idx):  # rows are in time order
            end = j + 1
            while end < len(idx) and rows[idx[end]]["ts"] - rows[i]["ts"] <= span:
                end += 1  # rows are in time order: stop at the first one too late
            later = list(range(j + 1, end))
            if not later:
                continue
            near = haversine_m(lat[j], lon[j], lat[later], lon[later]) <= HOTSPOT_METRES
            for m, ok in zip(later, near, strict=True):
                if ok:
                    union(i, idx[m])
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(rows)):
        members[find(i)].append(i)
    return [m for m in members.values() if len(m) >= MIN_CLUSTER]


def duplicate_cluster(ctx: Context) -> list[Finding]:
    """One recommendation per service: its places with several reports, largest first
    (a status notice per place, or a public map of known issues)."""
    lo, hi = ctx.window
    rows = rq.requests_for_clusters(ctx.store, ctx.site.id, lo - timedelta(days=HOTSPOT_DAYS),
                                    hi)
    per: dict[str, list[list[dict]]] = defaultdict(list)
    for members in _clusters(rows):
        group = [rows[i] for i in members]
        if max(r["ts"] for r in group) < lo:
            continue  # over before the window
        services = [r["service_id"] or NONE for r in group]
        main = min(set(services), key=lambda s: (-services.count(s), s))  # ties: by name
        per[main].append(group)
    out = []
    for sid, groups in per.items():
        groups.sort(key=lambda g: (-len(g), -max(r["ts"] for r in g).timestamp()))
        extra = sum(len(g) - 1 for g in groups)
        places = []
        for g in groups[:MAX_PLACES]:
            ids = [r["id"] for r in g]
            street = _street(next((r["address"] for r in g if r["address"]), ""))
            # request ids and a street name identify a public place's defect, not a person
            places.append(evidence(
                "cluster_reports", len(g), 1,
                f"{g[0]['ts'].isoformat()}/{g[-1]['ts'].isoformat()}",
                [{"text": i, "count": 1, "public": True} for i in ids[:5]],
                street=street, requests=ids, open=sum(r["status"] != "closed" for r in g)))
        summary = evidence("duplicate_reports", extra, 0, ctx.period,
                           [{"text": p["street"] or p["requests"][0], "count": p["value"],
                             "public": True} for p in places[:5]], places=len(groups))
        out.append(Finding(
            kind="duplicate_cluster", service_id=sid, subject="",
            evidence=[summary, *places],
            requests_per_week=extra / ctx.weeks,
            confidence=round(min(0.95, 0.6 + 0.1 * max(len(g) for g in groups)), 3),
            params={"service": ctx.service_name(sid),
                    "n": sum(len(g) for g in groups), "places": len(groups),
                    "examples": ", ".join(p["street"] or p["requests"][0]
                                          for p in places[:3])},
            metric={"name": "duplicate_share", "service_id": sid},
        ))
    return out


def _street(address: str) -> str:
    """The street of an address, without the house number (that may point to a person)."""
    head = address.split(",")[0].strip()
    words = [w for w in head.split() if not any(c.isdigit() for c in w)]
    return " ".join(words)


RULES = (duplicate_cluster,)
