"""Fixtures for the triage tests: a real uvicorn server on a loopback port over a data
directory with two sites, an Open311 key and a clerk key."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from triage_helpers import SITE, free_socket


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
    import uvicorn

    from amtspuls.config import load_settings
    from amtspuls.serve.app import create_app
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
    sock = free_socket()
    port = sock.getsockname()[1]
    app = create_app(settings, store=store)
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", key, clerk, data)
    finally:
        srv.should_exit = True
        thread.join(timeout=20)
        sock.close()
        store.close()
