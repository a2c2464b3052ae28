"""`amtspuls retention apply`: delete raw events past the retention period."""

from __future__ import annotations

import typer

from amtspuls.cli.common import emit_json, state
from amtspuls.retention import apply_retention


def register(app: typer.Typer) -> None:
    ret = typer.Typer(help="Aufbewahrung (Löschfristen).", no_args_is_help=True)
    app.add_typer(ret, name="retention")

    @ret.command("apply")
    def apply_cmd(ctx: typer.Context, json_out: bool = typer.Option(False, "--json")) -> None:
        """Delete raw events older than the retention period; daily aggregates stay."""
        st = state(ctx)
        result = apply_retention(st.settings, st.store())
        if json_out:
            emit_json(result)
        else:
            typer.echo(
                f"Gelöscht: {result['events']:,} Ereignisse, {result['sessions']:,} Besuche "
                f"vor {result['cutoff']}; {result['salts_deleted']} alte Salts entfernt."
            )
