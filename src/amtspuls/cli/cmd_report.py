"""`amtspuls report NAME`: the base reports."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from amtspuls.analyze.reports import REPORTS, run_report
from amtspuls.cli.common import emit_json, parse_date, state
from amtspuls.errors import UserError


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        ctx: typer.Context,
        name: str = typer.Argument(..., help=" | ".join(REPORTS)),
        site: str = typer.Option(..., "--site"),
        date_from: str = typer.Option(None, "--from", help="ISO date, site time zone"),
        date_to: str = typer.Option(None, "--to", help="ISO date, site time zone"),
        interval: str = typer.Option("day", "--interval", help="hour | day | week"),
        limit: int = typer.Option(100, "--limit"),
        service: str = typer.Option(None, "--service", help="Service id (report journeys)"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Show a report (JSON with --json)."""
        st = state(ctx)
        store = st.store()
        the_site = store.get_site(site) or store.ensure_site(site)
        if name not in REPORTS:
            raise UserError(f"unknown report {name!r}; known: {', '.join(REPORTS)}")
        result = run_report(
            store, the_site, name, parse_date(date_from, "--from"), parse_date(date_to, "--to"),
            interval, st.settings.k_anonymity, limit, service=service,
        )
        if json_out:
            emit_json(result)
        else:
            _print(name, result)


def _print(name: str, result) -> None:
    console = Console()
    if isinstance(result, dict) and all(isinstance(v, list) for v in result.values()):
        for key, rows in result.items():
            _table(console, f"{name}: {key}", rows)
    elif isinstance(result, dict):
        table = Table(title=name)
        table.add_column("Kennzahl")
        table.add_column("Wert", justify="right")
        for key, value in result.items():
            table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
        console.print(table)
    else:
        _table(console, name, result)


def _table(console: Console, title: str, rows: list[dict]) -> None:
    table = Table(title=title)
    if not rows:
        console.print(f"{title}: keine Daten")
        return
    cols = [c for c in rows[0] if not isinstance(rows[0][c], list)]
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in cols))
    console.print(table)
