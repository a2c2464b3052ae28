"""Fixtures for the log-format tests."""

from __future__ import annotations

import pytest

from amtspuls.engine import new_engine


@pytest.fixture(scope="session")
def engine():
    con = new_engine()
    yield con
    con.close()
