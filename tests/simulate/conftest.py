"""Shared fixtures: one small simulated run (21 days over Easter and the DST change,
1,000 visits a day), parsed once; the tests recompute everything they check from the
raw files rather than trusting the simulator's own counters."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from amtspuls.simulate import SimConfig, simulate
from amtspuls.simulate.config import TrafficConfig

COMBINED = re.compile(
    r"^([0-9a-f.:]+) - - \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(GET|POST|HEAD) (/\S*) (?:HTTP/1\.1|HTTP/2\.0)" (\d{3}) (?:\d+|-) "([^"]*)" "([^"]*)"$'
)

START = date(2026, 3, 26)
DAYS = 21
VISITS = 1000
SEED = 11


@dataclass(slots=True)
class LogLine:
    ip: str
    ts: datetime
    method: str
    path: str
    status: int
    ref: str
    ua: str


@dataclass
class Run:
    dir: Path
    config: SimConfig
    summary: dict
    truth: dict
    log: list[LogLine]
    raw_log: list[str]
    events: list[dict]
    raw_events: list[bytes]
    requests: list[dict]


def parse_log(path: Path) -> tuple[list[LogLine], list[str]]:
    out, raw = [], []
    stamps: dict[str, datetime] = {}
    with gzip.open(path, "rt", encoding="ascii") as fh:
        for line in fh:
            line = line.rstrip("\n")
            raw.append(line)
            m = COMBINED.match(line)
            if m is None:
                out.append(None)  # type: ignore[arg-type]
                continue
            ip, ts, method, path, status, ref, ua = m.groups()
            when = stamps.get(ts)
            if when is None:
                when = stamps[ts] = datetime.strptime(ts, "%d/%b/%Y:%H:%M:%S %z")
            out.append(LogLine(ip, when, method, path, int(status), ref, ua))
    return out, raw


def load_run(out: Path, cfg: SimConfig, summary: dict) -> Run:
    log, raw_log = parse_log(out / "access.log.gz")
    with gzip.open(out / "events.jsonl.gz", "rb") as fh:
        raw_events = fh.read().splitlines()
    events = [json.loads(x) for x in raw_events]
    requests = [json.loads(x) for x in (out / "requests.jsonl").read_text("utf-8").splitlines()]
    truth = json.loads((out / "truth.json").read_text("utf-8"))
    return Run(out, cfg, summary, truth, log, raw_log, events, raw_events, requests)


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("musterstadt")
    cfg = SimConfig(start=START, days=DAYS, seed=SEED, traffic=TrafficConfig(visits_per_day=VISITS))
    summary = simulate(out, cfg)
    return load_run(out, cfg, summary)
