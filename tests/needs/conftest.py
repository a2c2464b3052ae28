from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from needs_helpers import SITE, cli, write_events  # noqa: E402


@pytest.fixture(scope="session")
def site_data(tmp_path_factory) -> Path:
    """A data directory with the hand-built events imported."""
    folder = tmp_path_factory.mktemp("needs")
    events = folder / "events.jsonl"
    write_events(events)
    data = folder / "data"
    run = cli(data, "import-events", str(events), "--site", SITE, "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["malformed"] == 0
    return data
