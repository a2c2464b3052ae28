"""One `amtspuls serve` for all dashboard tests (session), filled once."""

from __future__ import annotations

import os

import pytest
from dash_helpers import CHROMIUM, CHROMIUM_ARGS, build


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


@pytest.fixture(scope="session")
def browser():
    """One Debian chromium for the dashboard's browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
