"""Fixtures of the early-warning tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _clean_amtspuls_env(monkeypatch):
    """No AMTSPULS_* setting of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("AMTSPULS_"):
            monkeypatch.delenv(key)
