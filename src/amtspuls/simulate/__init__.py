"""Musterstadt: a deterministic simulator of a German city's website traffic, tracker
events and citizen service requests, with the ground truth to evaluate analytics.

    from amtspuls.simulate import simulate, SimConfig
    summary = simulate("out/", SimConfig(days=30, seed=7))

Nothing in the pipeline imports this package; see docs/simulator.md.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from amtspuls.simulate.bots import Bots
from amtspuls.simulate.config import SimConfig
from amtspuls.simulate.output import EventFormatter, GzipWriter, LogFormatter
from amtspuls.simulate.requests import Reporter
from amtspuls.simulate.rows import concat, take
from amtspuls.simulate.sources import sources
from amtspuls.simulate.visits import simulate_day
from amtspuls.simulate.world import build_world

__all__ = ["SimConfig", "simulate", "FILES"]

FILES = ("access.log.gz", "events.jsonl.gz", "requests.jsonl", "truth.json")


def simulate(out_dir: str | Path, config: SimConfig | None = None) -> dict[str, Any]:
    """Write the four files into out_dir and return a summary (counts, seconds)."""
    cfg = config or SimConfig()
    cfg.validate()
    began = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    world = build_world(cfg)
    src = sources(world)
    bots = Bots(world.city, world.uas, world.clients)
    log_fmt, ev_fmt = LogFormatter(world), EventFormatter(world)
    log_w = GzipWriter(out / "access.log.gz", cfg.gzip_level)
    ev_w = GzipWriter(out / "events.jsonl.gz", cfg.gzip_level)
    truth = world.truth
    carry_log: dict[str, np.ndarray] | None = None
    carry_ev: dict[str, np.ndarray] | None = None
    phases = {"visits": 0.0, "bots": 0.0, "format": 0.0}
    clock = time.thread_time
    try:
        bases: list[int] = []
        for k in range(cfg.days):
            day = world.clock.dates[k]
            bases.append(len(world.clients))
            if k >= 2:  # rows carried over reach back one day at most
                log_fmt.forget_clients_below(bases[k - 1])
                ev_fmt.forget_clients_below(bases[k - 1])
            c0 = clock()
            rows = simulate_day(world, k, day, src)
            c1 = clock()
            human = sum(len(a) for a in rows.log["t"])
            share = float(
                np.clip(
                    world.rng(2, k).normal(cfg.bots.bot_line_share, cfg.bots.share_noise),
                    0.31,
                    0.44,
                )
            )
            target = int(round(human * share / (1.0 - share)))
            t0, t1 = int(world.clock.day_start[k]), int(world.clock.day_start[k + 1])
            nbot = bots.day(rows, world.rng(2, k, 1), t0, t1, target, day)
            c2 = clock()
            truth.human_lines += human
            truth.bot_lines += nbot
            logs = rows.log_arrays()
            _count_broken(world, logs)
            evs = rows.event_arrays()
            evs = take(evs, np.flatnonzero(world.clients.tracked[evs["client"]]))
            truth.events += len(evs["t"])
            last = k == cfg.days - 1
            carry_log = _emit(log_w, carry_log, logs, t1, last, lambda c, k=k: log_fmt.format(c, k))
            carry_ev = _emit(ev_w, carry_ev, evs, t1, last, ev_fmt.format)
            phases["visits"] += c1 - c0
            phases["bots"] += c2 - c1
            phases["format"] += clock() - c2
    finally:
        log_w.close()
        ev_w.close()
    requests = Reporter(world).run()
    with (out / "requests.jsonl").open("wb") as fh:
        for obj, _ in requests:
            fh.write(orjson.dumps(obj) + b"\n")
    truth.requests = [t for _, t in requests]
    doc = truth.to_json(world)
    (out / "truth.json").write_bytes(
        orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n"
    )
    seconds = time.perf_counter() - began
    return {
        "out": str(out),
        "seed": cfg.seed,
        "start": cfg.start.isoformat(),
        "days": cfg.days,
        "bundesland": cfg.bundesland,
        "files": {
            name: {"path": str(out / name), "bytes": (out / name).stat().st_size} for name in FILES
        },
        "sessions": sum(truth.sessions_per_day.values()),
        "log_lines": log_w.lines,
        "bot_lines": truth.bot_lines,
        "events": ev_w.lines,
        "requests": len(requests),
        "incidents": len(world.incidents),
        "seconds": round(seconds, 3),
        "cpu_seconds_main": {k: round(v, 2) for k, v in phases.items()},
    }


def _emit(
    writer: GzipWriter,
    carry: dict[str, np.ndarray] | None,
    new: dict[str, np.ndarray],
    until: int,
    last: bool,
    fmt,
) -> dict[str, np.ndarray] | None:
    """Write rows before `until` in time order; keep later ones for the next day."""
    rows = new if carry is None else concat(carry, new)
    order = np.argsort(rows["t"], kind="stable")
    rows = take(rows, order)
    cut = len(rows["t"]) if last else int(np.searchsorted(rows["t"], until, side="left"))
    now = {k: v[:cut] for k, v in rows.items()}
    writer.write(fmt(now), cut)
    return {k: v[cut:] for k, v in rows.items()}


def _count_broken(world, logs: dict[str, np.ndarray]) -> None:
    """Bot hits on dead links (human hits are counted where visitors click them)."""
    broken = world.problems.broken
    if not broken:
        return
    urls = np.array([b.url for b in broken], dtype=np.int64)
    is_bot = world.clients.bot[logs["client"]]
    hit = np.isin(logs["url"], urls) & is_bot
    if hit.any():
        for k, u in enumerate(urls.tolist()):
            world.truth.broken_bot_hits[k] += int((logs["url"][hit] == u).sum())
