"""Helpers for the live-tracking tests: a real `amtspuls serve` subprocess on loopback,
HTTP without third-party clients, and reading the store once the server has stopped."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parents[2]
CHROME_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/126.0.0.0 Safari/537.36")
SITE = "www.musterstadt.de"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMTSPULS_")}
    env["AMTSPULS_API_AUTH"] = "false"  # the realtime API without a login (tests only)
    env.update(extra or {})
    return env


def cli(data: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "amtspuls.cli", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=60, env=clean_env(env))


@dataclass
class Server:
    """`amtspuls serve` in a subprocess."""

    data: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> Server:
        self.log = self.data.parent / f"serve-{self.port}.log"
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "amtspuls.cli", "--data", str(self.data), "serve",
             "--port", str(self.port)],
            stdout=out, stderr=subprocess.STDOUT, env=clean_env(self.env),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if request(self, "GET", "/js/amtspuls.js", timeout=1).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not come up")

    def stop(self, timeout: float = 60.0) -> None:
        """Graceful stop (SIGTERM): everything acknowledged is stored before it exits
        (uvicorn re-raises the signal after its shutdown, so the exit code is -15)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.proc = None
        log = self.logged()
        assert code in (0, -signal.SIGTERM), (code, log[-3000:])
        assert "Traceback" not in log and "shutdown failed" not in log, log[-3000:]

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def logged(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(server: Server, method: str, path: str, body: bytes | str | dict | None = None,
            headers: dict[str, str] | None = None, timeout: float = 10) -> Reply:
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body,
                     headers={"User-Agent": CHROME_UA, **(headers or {})})
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def store_rows(data: Path, sql: str, params: list | None = None) -> list[dict]:
    """Rows of the store (the server must be stopped: it holds the file's lock)."""
    con = duckdb.connect(str(data / "amtspuls.duckdb"), read_only=True)
    try:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def letters(n: int) -> str:
    """A number written in letters (markers must survive PII scrubbing of digits)."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = chr(97 + r) + out
        if n == 0:
            return out
