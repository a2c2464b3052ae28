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


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium for a module's browser tests. Not session-wide: a live sync
    Playwright keeps an event loop in the main thread, which other test modules'
    own Playwright or asyncio.run would trip over."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
