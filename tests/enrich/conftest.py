"""Shared fixtures for the enrichment tests: the uap-core golden files."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

UAP_CORE = Path(__file__).resolve().parents[1] / "fixtures" / "uap-core"

_LINE = re.compile(r"^\s*(- )?([a-z_]+):\s?(.*)$")


def load_uap_cases(name: str) -> list[dict[str, str | None]]:
    """Read a uap-core test file.

    The files use a small YAML subset: ``test_cases:`` followed by a list of flat
    mappings whose values are single-quoted (``''`` escapes a quote), double-quoted
    (no escapes occur) or empty (null). Comment lines start with ``#``.
    """
    path = UAP_CORE / name
    opener = gzip.open if name.endswith(".gz") else open
    cases: list[dict[str, str | None]] = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for raw in handle:
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#") or line == "test_cases:":
                continue
            match = _LINE.match(line)
            if match is None:
                raise ValueError(f"{name}: unexpected line {line!r}")
            if match.group(1):
                cases.append({})
            value = match.group(3).strip()
            parsed: str | None
            if not value:
                parsed = None
            elif value[0] == "'" and value[-1] == "'" and len(value) >= 2:
                parsed = value[1:-1].replace("''", "'")
            elif value[0] == '"' and value[-1] == '"' and len(value) >= 2:
                parsed = value[1:-1]
            else:
                parsed = value
            cases[-1][match.group(2)] = parsed
    return cases


@pytest.fixture(scope="session")
def uap_ua_cases() -> list[dict[str, str | None]]:
    return load_uap_cases("test_ua.yaml")


@pytest.fixture(scope="session")
def uap_os_cases() -> list[dict[str, str | None]]:
    return load_uap_cases("test_os.yaml") + load_uap_cases("additional_os_tests.yaml")


@pytest.fixture(scope="session")
def uap_device_cases() -> list[dict[str, str | None]]:
    return load_uap_cases("test_device.yaml.gz")


@pytest.fixture(scope="session")
def uap_all_user_agents(uap_ua_cases, uap_os_cases, uap_device_cases) -> list[str]:
    """Every distinct user agent of the uap-core corpus (about 17,800)."""
    seen: dict[str, None] = {}
    for case in [*uap_ua_cases, *uap_os_cases, *uap_device_cases]:
        seen.setdefault(case["user_agent_string"] or "", None)
    return list(seen)
