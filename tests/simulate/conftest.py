"""Shared fixtures: one small simulated run (28 days over Easter and the DST change,
1,500 visits a day), parsed once; the tests recompute everything they check from the
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
    r'^(?P<ip>[0-9a-f.:]+) - - \[(?P<ts>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
    r'"(?P<method>GET|POST|HEAD) (?P<path>/\S*) (?P<proto>HTTP/1\.1|HTTP/2\.0)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<ref>[^"]*)" "(?P<ua>[^"]*)"$'
)

START = date(2026, 3, 23)
DAYS = 28
VISITS = 1500
SEED = 11


@dataclass
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
    with gzip.open(path, "rt", encoding="ascii") as fh:
        for line in fh:
            line = line.rstrip("\n")
            raw.append(line)
            m = COMBINED.match(line)
            if m is None:
                out.append(None)  # type: ignore[arg-type]
                continue
            out.append(
                LogLine(
                    m["ip"],
                    datetime.strptime(m["ts"], "%d/%b/%Y:%H:%M:%S %z"),
                    m["method"],
                    m["path"],
                    int(m["status"]),
                    m["ref"],
                    m["ua"],
                )
            )
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
