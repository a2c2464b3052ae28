"""`amtspuls simulate`: write a deterministic Musterstadt data set (logs, tracker
events, Open311 requests, ground truth) for demos and evaluation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from amtspuls.cli.common import emit_json, parse_date
from amtspuls.errors import UserError


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        out: Path = typer.Option(..., "--out", help="Output directory (created if missing)."),
        days: str = typer.Option("90", "--days", help="Number of simulated days."),
        start: str = typer.Option("2026-01-01", "--start", help="First day (ISO date)."),
        seed: str = typer.Option("7", "--seed", help="Random seed; same seed, same bytes."),
        visits_per_day: str = typer.Option(
            "8000", "--visits-per-day", help="Mean human visits on an ordinary day."
        ),
        bundesland: str = typer.Option(
            "NW", "--bundesland", help="State for public holidays and elections (NW, BY, …)."
        ),
        fix_date: str = typer.Option(
            None, "--fix-date", help="Day a findability and a form problem are fixed, or 'none'."
        ),
        gzip_level: str = typer.Option("1", "--gzip-level", help="gzip level 0–9 (1 is fastest)."),
        json_out: bool = typer.Option(False, "--json", help="Print one JSON summary."),
    ) -> None:
        """Simulate the website and citizen requests of Musterstadt (~100,000 inhabitants)."""
        from amtspuls.simulate import SimConfig, simulate
        from amtspuls.simulate.config import ProblemConfig, TrafficConfig

        first = parse_date(start, "--start")
        problems = ProblemConfig()
        if fix_date is not None:
            if fix_date.strip().lower() == "none":
                problems = replace(problems, fix=False)
            else:
                problems = replace(problems, fix_date=parse_date(fix_date, "--fix-date"))
        cfg = SimConfig(
            start=first,
            days=_int(days, "--days"),
            seed=_int(seed, "--seed"),
            bundesland=bundesland.strip().upper(),
            gzip_level=_int(gzip_level, "--gzip-level"),
            traffic=TrafficConfig(visits_per_day=_int(visits_per_day, "--visits-per-day")),
            problems=problems,
        )
        try:
            cfg.validate()
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if out.exists() and not out.is_dir():
            raise UserError(f"--out: {out} exists and is not a directory")
        try:
            summary = simulate(out, cfg)
        except OSError as exc:
            raise UserError(f"cannot write to {out}: {exc.strerror or exc}") from None
        if json_out:
            emit_json(summary)
            return
        typer.echo(
            f"Musterstadt {cfg.start}…{cfg.end} ({cfg.bundesland}, seed {cfg.seed}): "
            f"{summary['sessions']:,} visits, {summary['log_lines']:,} log lines "
            f"({summary['bot_lines']:,} bots), {summary['events']:,} tracker events, "
            f"{summary['requests']:,} requests in {summary['seconds']:.1f} s"
        )
        for info in summary["files"].values():
            typer.echo(f"  {info['path']}  {info['bytes']:,} bytes")


def _int(value: str, name: str) -> int:
    """Parse an integer option here, so that bad input is exit 2 with one line."""
    try:
        return int(str(value).strip().replace("_", ""))
    except ValueError:
        raise UserError(f"{name}: expected an integer, got {value!r}") from None
