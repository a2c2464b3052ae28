"""`amtspuls simulate`: one JSON document with --json, exit 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import amtspuls

SRC = str(Path(amtspuls.__file__).resolve().parent.parent)


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-c", "from amtspuls.cli import main; main()", "simulate", *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def test_json_summary(tmp_path):
    out = tmp_path / "out"
    p = _cli("--out", str(out), "--days", "2", "--visits-per-day", "200", "--seed", "3",
             "--start", "2026-06-01", "--bundesland", "by", "--json")  # fmt: skip
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert p.stdout.strip().count("\n") == 0
    assert set(doc["files"]) == {"access.log.gz", "events.jsonl.gz", "requests.jsonl",
                                 "truth.json"}  # fmt: skip
    for info in doc["files"].values():
        assert Path(info["path"]).stat().st_size == info["bytes"] > 0
    assert doc["days"] == 2 and doc["seconds"] >= 0 and doc["log_lines"] > 0
    truth = json.loads((out / "truth.json").read_text())
    assert truth["bundesland"] == "BY"


@pytest.mark.parametrize(
    "args",
    [("--days", "0"), ("--days", "abc"), ("--start", "2026-02-30"), ("--bundesland", "XX"),
     ("--visits-per-day", "-5"), ("--seed", "-1"), ("--fix-date", "soon")],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys, args):
    from amtspuls.cli import main

    monkeypatch.setattr(sys, "argv", ["amtspuls", "simulate", "--out", str(tmp_path / "x"), *args])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()
