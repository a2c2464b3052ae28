"""One `amtspuls serve` for all dashboard tests (session), filled once."""

from __future__ import annotations

import os

import pytest
from dash_helpers import build


@pytest.fixture(autouse=True)
def _clean_amtspuls_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("AMTSPULS_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    served = build(tmp_path_factory.mktemp("dashboard"))
    served.start()
    try:
        yield served
    finally:
        served.stop()
