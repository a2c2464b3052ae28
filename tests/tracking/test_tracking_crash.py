"""Durability: a load generator (separate process) sends events with unique markers, the
server is killed with SIGKILL twice mid-stream and restarted; every event it acknowledged
is in the store exactly once, and no event is stored twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from tracking_helpers import REPO, SITE, Server, clean_env, cli, store_rows

LOADGEN = REPO / "bench" / "loadgen.py"


@pytest.mark.slow
def test_acknowledged_events_survive_kill_9(tmp_path):
    data = tmp_path / "data"
    assert cli(data, "site", "add", SITE).returncode == 0
    server = Server(data, env={"AMTSPULS_COLLECT_RATE_LIMIT": "0"}).start()
    acks = tmp_path / "acks.txt"
    gen = subprocess.Popen(
        [sys.executable, str(LOADGEN), "--url", server.base, "--site", SITE, "--mode", "mixed",
         "--unique", "--duration", "300", "--concurrency", "8", "--acks", str(acks)],
        stdout=subprocess.PIPE, text=True, env=clean_env(),
    )
    left_behind = []
    try:
        # two seconds of traffic, kill, restart; twice; then two more seconds
        for _ in range(2):
            time.sleep(2.0)
            server.kill()
            left_behind.append(sorted(p.name for p in (data / "wal").iterdir()))
            server.start()
        time.sleep(2.0)
        gen.send_signal(signal.SIGTERM)
        out, _ = gen.communicate(timeout=60)
    finally:
        if gen.poll() is None:
            gen.kill()
    server.stop()
    summary = json.loads(out)
    acked = acks.read_text().split()
    assert summary["events"] == len(acked) > 300
    assert summary["errors"], "the kills should have cut connections mid-stream"
    assert all(left_behind), "there were WAL segments to replay after each kill"
    assert "replayed" in server.logged()

    rows = store_rows(data, "SELECT path, count(*) AS n FROM events "
                            "WHERE path LIKE '/last/%' GROUP BY path")
    stored = {r["path"]: r["n"] for r in rows}
    missing = [m for m in acked if m not in stored]
    assert missing == [], f"{len(missing)} acknowledged events lost, e.g. {missing[:5]}"
    twice = {p: n for p, n in stored.items() if n > 1}
    assert twice == {}, f"stored more than once: {list(twice.items())[:5]}"
    # besides the acknowledged ones, at most the requests in flight at each kill
    assert len(stored) - len(acked) <= 2 * 8
    assert list((data / "wal").iterdir()) == []
