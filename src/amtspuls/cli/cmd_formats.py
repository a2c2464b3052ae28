"""`amtspuls formats`: the log formats import-logs knows."""

from __future__ import annotations

import typer

from amtspuls.cli.common import emit_json, state
from amtspuls.collect.logs.formats import registry


def register(app: typer.Typer) -> None:
    @app.command("formats")
    def formats_cmd(ctx: typer.Context, json_out: bool = typer.Option(False, "--json")) -> None:
        """List the log formats (bundled and the city's own DATA/log_formats.toml)."""
        extra = state(ctx).settings.data_dir / "log_formats.toml"
        names = sorted(registry(extra))
        if json_out:
            emit_json(names)
        else:
            typer.echo("\n".join(names))
