"""`amtspuls report NAME`: the base reports, and `report weekly` (the printable weekly
report as one HTML file, optionally sent by e-mail)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from amtspuls.analyze.reports import REPORTS, run_report
from amtspuls.cli.common import emit_json, parse_date, state
from amtspuls.errors import UserError

WEEKLY = "weekly"


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        ctx: typer.Context,
        name: str = typer.Argument(..., help=" | ".join((*REPORTS, WEEKLY))),
        site: str = typer.Option(..., "--site"),
        date_from: str = typer.Option(None, "--from", help="ISO date, site time zone"),
        date_to: str = typer.Option(None, "--to", help="ISO date, site time zone"),
        interval: str = typer.Option("day", "--interval", help="hour | day | week"),
        limit: int = typer.Option(100, "--limit"),
        service: str = typer.Option(None, "--service", help="Service id (report journeys)"),
        json_out: bool = typer.Option(False, "--json"),
        out: str = typer.Option(None, "--out", help="weekly: the HTML file to write"),
        week: str = typer.Option(None, "--week", help="weekly: ISO week like 2026-W05 "
                                                      "(default: last complete week)"),
        email_to: list[str] = typer.Option(None, "--email-to",
                                           help="weekly: send to this address (repeatable)"),
        smtp_host: str = typer.Option(None, "--smtp-host",
                                      help="weekly: SMTP server (default: as for alert e-mails)"),
        smtp_port: int = typer.Option(None, "--smtp-port", help="weekly: SMTP port"),
        smtp_from: str = typer.Option(None, "--smtp-from", help="weekly: sender address"),
    ) -> None:
        """Show a report (JSON with --json); `report weekly --out FILE.html` writes the
        weekly report."""
        st = state(ctx)
        if name == WEEKLY:
            _weekly(st, site, out, week, list(email_to or []), smtp_host, smtp_port,
                    smtp_from, json_out)
            return
        weekly_only = {"--out": out, "--week": week, "--email-to": email_to,
                       "--smtp-host": smtp_host, "--smtp-port": smtp_port,
                       "--smtp-from": smtp_from}
        given = [opt for opt, value in weekly_only.items() if value]
        if given:
            raise UserError(f"{given[0]} applies only to `amtspuls report weekly`")
        store = st.store()
        the_site = store.get_site(site) or store.ensure_site(site)
        if name not in REPORTS:
            raise UserError(f"unknown report {name!r}; known: "
                            f"{', '.join((*REPORTS, WEEKLY))}")
        result = run_report(
            store, the_site, name, parse_date(date_from, "--from"), parse_date(date_to, "--to"),
            interval, st.settings.k_anonymity, limit, service=service,
        )
        if json_out:
            emit_json(result)
        else:
            _print(name, result)


def _weekly(st, site: str, out: str | None, week: str | None, email_to: list[str],
            smtp_host: str | None, smtp_port: int | None, smtp_from: str | None,
            json_out: bool) -> None:
    """Check every input first; write the file whole or not at all; then send it."""
    from amtspuls.recommend import weekly

    if not out:
        raise UserError("report weekly needs --out FILE.html")
    iso_week = weekly.parse_week(week) if week is not None else None
    target = weekly.check_out(out)
    mail = (weekly.mail_channel(st.settings, email_to, smtp_host, smtp_port, smtp_from)
            if email_to else None)
    store = st.store()
    the_site = store.get_site(site)
    if the_site is None:
        raise UserError(f"unknown site {site!r} (see `amtspuls site list`)")
    data = weekly.build(store, the_site, st.settings, iso_week)
    html = weekly.render_html(data)
    weekly.write_atomic(target, html)
    sent: list[str] = []
    if mail is not None:
        try:
            weekly.send(data, html, mail)
        except OSError as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise UserError(f"e-mail not sent via {mail.host}:{mail.port} ({detail}); "
                            f"the report was written to {target}") from None
        sent = mail.to
    if json_out:
        emit_json({
            "site": data["site"], "week": data["week"], "from": data["from"],
            "to": data["to"], "out": str(target), "emailed_to": sent,
            "compare_weeks": data["compare_weeks"],
            "figures": {f["key"]: {"value": f["value"], "usual": f["usual"]}
                        for f in data["figures"]},
            "alerts": len(data["alerts"]),
            "recommendations": [r["id"] for r in data["recommendations"]],
            "done": [r["id"] for r in data["done"]],
        })
        return
    typer.echo(f"Wochenbericht {data['week_label']} für {data['site']} geschrieben: {target}"
               + (f" (per E-Mail an {', '.join(sent)})" if sent else ""))


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
