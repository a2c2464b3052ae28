"""`amtspuls site …`: manage the sites whose data is collected."""

from __future__ import annotations

import typer

from amtspuls.cli.common import emit_json, state


def register(app: typer.Typer) -> None:
    site_app = typer.Typer(help="Sites (Websites) verwalten.", no_args_is_help=True)
    app.add_typer(site_app, name="site")

    @site_app.command("add")
    def site_add(
        ctx: typer.Context,
        domain: str = typer.Argument(..., help="Domain, e.g. www.musterstadt.de"),
        timezone: str = typer.Option(None, "--timezone", help="IANA time zone"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Add a site and print its numeric id (the first site gets 1, as in Matomo)."""
        site = state(ctx).store().add_site(domain, timezone)
        if json_out:
            emit_json({"id": site.id, "domain": site.domain, "timezone": site.timezone})
        else:
            typer.echo(site.id)

    @site_app.command("list")
    def site_list(ctx: typer.Context, json_out: bool = typer.Option(False, "--json")) -> None:
        """List the sites."""
        sites = state(ctx).store().list_sites()
        if json_out:
            emit_json([{"id": s.id, "domain": s.domain, "timezone": s.timezone} for s in sites])
        else:
            for s in sites:
                typer.echo(f"{s.id}\t{s.domain}\t{s.timezone}")
