"""Fixtures for the core (end-to-end) tests."""

from __future__ import annotations

import os

import pytest
from core_helpers import ELASTIC_LOG


@pytest.fixture(autouse=True)
def _clean_amtspuls_env(monkeypatch):
    """No AMTSPULS_* setting of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("AMTSPULS_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def elastic_log():
    if not ELASTIC_LOG.is_file():
        pytest.skip(f"{ELASTIC_LOG} not available (../shared is not checked out)")
    return ELASTIC_LOG
