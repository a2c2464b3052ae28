"""What every command shares: the data directory, JSON output, and the error contract
(exit 2 with one line on stderr for bad input, never a traceback)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

import click
import typer
import typer._click.exceptions as typer_click_exceptions

from amtspuls.config import Settings, load_settings
from amtspuls.errors import UserError


class State:
    """Per-invocation state: settings resolved lazily, the store opened once."""

    def __init__(self, data_dir: str | None) -> None:
        self._data_dir = data_dir
        self._settings: Settings | None = None
        self._store = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self._data_dir)
        return self._settings

    def store(self, read_only: bool = False):
        from amtspuls.store import open_store

        if self._store is None:
            self._store = open_store(self.settings, read_only=read_only)
        return self._store


def state(ctx: typer.Context) -> State:
    return ctx.ensure_object(State)


def emit_json(obj: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=_json_default))
    sys.stdout.write("\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy / decimal-like scalars
        return value.item()
    return str(value)


def parse_date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{name}: expected an ISO date like 2026-01-31, got {value!r}") from None


def fail(message: str) -> None:
    sys.stderr.write(f"amtspuls: {message.splitlines()[0] if message else 'error'}\n")
    sys.exit(2)


# typer ships its own copy of click; errors may come from either.
_USAGE = (typer_click_exceptions.ClickException, click.ClickException)
_ABORT = (typer.Abort, click.exceptions.Abort)
_EXIT = (typer.Exit, click.exceptions.Exit)


def run_guarded(app: Callable[..., Any]) -> None:
    """Run the CLI; turn bad input into exit 2 with one line on stderr."""
    try:
        app(standalone_mode=False)
    except UserError as exc:
        fail(str(exc))
    except _ABORT:
        fail("aborted")
    except _USAGE as exc:
        fail(exc.format_message())
    except _EXIT as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    except KeyboardInterrupt:
        fail("interrupted")
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug, not bad input: one line, details on request
        if os.environ.get("AMTSPULS_DEBUG"):
            raise
        sys.stderr.write(
            f"amtspuls: internal error ({type(exc).__name__}: {str(exc).splitlines()[0][:300]})"
            " — run again with AMTSPULS_DEBUG=1 for details\n"
        )
        sys.exit(1)
