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
        alias: list[str] = typer.Option(
            None, "--alias", help="Another host name of the same website (repeatable)"
        ),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Add a site and print its numeric id (the first site gets 1, as in Matomo)."""
        site = state(ctx).store().add_site(domain, timezone, alias or ())
        if json_out:
            emit_json({"id": site.id, "domain": site.domain, "timezone": site.timezone,
                       "aliases": list(site.aliases)})
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

    @site_app.command("snippet")
    def site_snippet(
        ctx: typer.Context,
        domain: str = typer.Argument(..., help="Domain, e.g. www.musterstadt.de"),
        url: str = typer.Option("http://127.0.0.1:8000", "--url",
                                help="Address under which browsers reach `amtspuls serve`"),
        respect_dnt: bool = typer.Option(False, "--respect-dnt",
                                         help="Send nothing when Do Not Track / GPC is set"),
        search_param: str = typer.Option(None, "--search-param",
                                         help="URL parameter of the site search (default q)"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Print the <script> tag that loads the tracker (the site is created if missing)."""
        from amtspuls.collect.snippet import snippet
        from amtspuls.store.duckdb_store import normalise_domain

        snippet(normalise_domain(domain), url, respect_dnt, search_param)  # bad input: exit 2
        site = state(ctx).store().ensure_site(domain)
        tag = snippet(site.domain, url, respect_dnt, search_param)
        if json_out:
            emit_json({"id": site.id, "domain": site.domain, "snippet": tag})
        else:
            typer.echo(tag)
