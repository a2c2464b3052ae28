"""Daily visitor-hash salts (Plausible's scheme).

A salt is 32 random bytes per UTC day, created when first needed and deleted 48 hours
after its creation. With the salt gone, no one — not even the operator — can tell
whether two days' visitors were the same person. Salts live in their own files
(mode 0600), never in the analytics store.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import date
from pathlib import Path


class SaltStore:
    def __init__(self, directory: Path, keep_hours: int = 48) -> None:
        self.directory = directory
        self.keep_seconds = keep_hours * 3600
        self._cache: dict[date, str] = {}

    def _path(self, day: date) -> Path:
        return self.directory / f"{day.isoformat()}.salt"

    def salt_for(self, day: date) -> str:
        """Hex salt for a (local) day; created on first use."""
        if day in self._cache:
            return self._cache[day]
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(day)
        try:
            value = path.read_text("ascii").strip()
        except FileNotFoundError:
            value = secrets.token_hex(32)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(value)
            try:
                os.link(tmp, path)  # atomic: a concurrent writer's salt wins, ours is dropped
            except FileExistsError:
                value = path.read_text("ascii").strip()
            finally:
                tmp.unlink(missing_ok=True)
        self._cache[day] = value
        return value

    def purge(self, now: float | None = None) -> int:
        """Delete salts created more than `keep_hours` ago; returns how many."""
        now = time.time() if now is None else now
        removed = 0
        if not self.directory.is_dir():
            return 0
        for path in self.directory.glob("*.salt"):
            if now - path.stat().st_mtime > self.keep_seconds:
                path.unlink(missing_ok=True)
                removed += 1
                self._cache.clear()
        return removed
