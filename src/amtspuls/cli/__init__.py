"""`amtspuls …` commands.

Each `cmd_*.py` module in this package defines `register(app)`; they are discovered
here so that command groups stay in small modules of their own.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from amtspuls.cli.common import State, run_guarded

app = typer.Typer(
    name="amtspuls",
    help="Datenschutzfreundliche Analyse und Frühwarnung für kommunale Websites.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(
    ctx: typer.Context,
    data: str = typer.Option(
        None, "--data", envvar="AMTSPULS_DATA", help="Data directory (default ./amtspuls-data)."
    ),
) -> None:
    ctx.obj = State(data)


def _register_all() -> None:
    package = sys.modules[__name__]
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{info.name}").register(app)


_register_all()


def main() -> None:
    run_guarded(app)
