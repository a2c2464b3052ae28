"""Fixtures for the triage tests: a real uvicorn server on a loopback port over a data
directory with two sites, an Open311 key and a clerk key."""

from __future__ import annotations

from pathlib import Path

import pytest
from triage_helpers import SITE


class Served:
    def __init__(self, base: str, api_key: str, clerk_key: str, data: Path) -> None:
        self.base = base
        self.api_key = api_key
        self.clerk_key = clerk_key
        self.data = data


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server over a data directory with two sites (the first is the default
    jurisdiction), an Open311 key and a clerk key."""
    from amtspuls.config import load_settings
    from amtspuls.serve.app import create_app
    from amtspuls.serve.loopback import serving
    from amtspuls.store import open_store
    from amtspuls.store.requests_store import RequestStore

    data = tmp_path_factory.mktemp("open311") / "data"
    data.mkdir()
    # The REST API's user login is not what these tests are about: Open311 has its own
    # keys, and the review API checks a clerk key itself.
    (data / "amtspuls.toml").write_text("api_auth = false\n", "utf-8")
    settings = load_settings(data)
    store = open_store(settings)
    store.add_site(SITE)
    store.add_site("www.nachbarstadt.de")
    rs = RequestStore(store)
    key = rs.add_api_key("buerger-app")
    clerk = rs.add_api_key("sachbearbeitung", role="clerk")
    try:
        with serving(create_app(settings, store=store)) as base:
            yield Served(base, key, clerk, data)
    finally:
        store.close()
