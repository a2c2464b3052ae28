"""`amtspuls import-logs`: import server access logs."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from amtspuls.cli.common import emit_json, state
from amtspuls.collect.events import import_events
from amtspuls.collect.logs.importer import import_logs


def register(app: typer.Typer) -> None:
    @app.command("import-logs")
    def import_logs_cmd(
        ctx: typer.Context,
        files: list[str] = typer.Argument(..., help="Log files (plain, .gz or .bz2)"),
        site: str = typer.Option(..., "--site", help="Site domain (created if missing)"),
        fmt: str = typer.Option("auto", "--format", help="Format name or auto"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Import access logs: anonymised, enriched, resumable."""
        st = state(ctx)
        store = st.store()
        the_site = store.ensure_site(site)
        show = sys.stderr.isatty() and not json_out
        console = Console(stderr=True)
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.completed:,} Zeilen"), TimeElapsedColumn(),
            console=console, disable=not show, transient=True,
        ) as progress:
            task = progress.add_task("Import", total=None)
            report = import_logs(
                st.settings, store, the_site, files, fmt,
                on_progress=lambda n: progress.advance(task, n),
            )
        out = report.to_json()
        if json_out:
            emit_json(out)
        else:
            typer.echo(
                f"{out['lines']:,} Zeilen: {out['imported']:,} importiert "
                f"({out['pageviews']:,} Seitenaufrufe, {out['bots']:,} Bots, "
                f"{out['static']:,} statisch), {out['malformed']:,} fehlerhaft"
                + (f" (Zeilen {', '.join(map(str, out['malformed_lines']))})"
                   if out["malformed_lines"] else "")
                + f" in {out['seconds']:.1f} s"
            )

    @app.command("import-events")
    def import_events_cmd(
        ctx: typer.Context,
        files: list[str] = typer.Argument(..., help="Event files (JSON lines, may be .gz)"),
        site: str = typer.Option(..., "--site", help="Site domain (created if missing)"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Import tracker events (as the live endpoint would receive them)."""
        st = state(ctx)
        store = st.store()
        report = import_events(st.settings, store, store.ensure_site(site), files)
        out = report.to_json()
        if json_out:
            emit_json(out)
        else:
            typer.echo(
                f"{out['lines']:,} Ereignisse: {out['imported']:,} importiert, "
                f"{out['bots']:,} von Bots, {out['malformed']:,} fehlerhaft "
                f"in {out['seconds']:.1f} s"
            )
