"""`amtspuls map-query`, `map-queries`, `topics`, `catalog init`: citizen needs.

Heavy imports (scikit-learn, the mapper) happen inside the commands, so that the other
commands start as fast as before."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from amtspuls.cli.common import emit_json, parse_date, state
from amtspuls.errors import UserError


def _mapper(ctx: typer.Context, site: str | None):
    from amtspuls.analyze.querymap import QueryMapper
    from amtspuls.analyze.search import site_mapper

    if not site:
        return QueryMapper()
    store = state(ctx).store()
    return site_mapper(store, store.ensure_site(site))


def _print_mapping(r: dict) -> None:
    alts = ", ".join(f"{a['service_id']} {a['score']:.2f}" for a in r["alternatives"])
    typer.echo(f"{r['query']}\t{r['service_id']}\t{r['score']:.2f}"
               + (f"\t(sonst: {alts})" if alts else ""))


def register(app: typer.Typer) -> None:
    @app.command("map-query")
    def map_query_cmd(
        ctx: typer.Context,
        query: str = typer.Argument(..., help="A search query, e.g. \"perso verlängern\""),
        site: str = typer.Option(None, "--site", help="Use the site's catalogue and what "
                                 "its visitors' behaviour taught (created if missing)"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Map one search query to a service (Leistung), with score and explanation."""
        result = _mapper(ctx, site).map(query)
        if json_out:
            emit_json(result)
        else:
            _print_mapping(result)
            typer.echo(result["explanation"])

    @app.command("map-queries")
    def map_queries_cmd(
        ctx: typer.Context,
        infile: str = typer.Option(..., "--in", help="Text file, one query per line (- for stdin)"),
        site: str = typer.Option(None, "--site", help="Use the site's catalogue and behaviour"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Map many queries (one per line) to services, in input order."""
        if infile == "-":
            lines = sys.stdin.read().splitlines()
        else:
            path = Path(infile)
            if not path.is_file():
                raise UserError(f"--in {infile}: no such file")
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError:
                raise UserError(f"--in {infile}: not UTF-8 text") from None
        mapper = _mapper(ctx, site)
        results = mapper.map_many(line.strip() for line in lines if line.strip())
        if json_out:
            emit_json(results)
        else:
            for r in results:
                _print_mapping(r)

    @app.command("topics")
    def topics_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site"),
        date_from: str = typer.Option(None, "--from", help="ISO date, site time zone"),
        date_to: str = typer.Option(None, "--to", help="ISO date, site time zone"),
        limit: int = typer.Option(50, "--limit", help="Topics shown at most"),
        n_topics: int = typer.Option(None, "--topics", help="Number of clusters (default √n)"),
        semantic: str = typer.Option("auto", "--semantic",
                                     help="auto | on | off: multilingual sentence vectors"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Recurring topics of site searches (and request texts), with trend and services."""
        from amtspuls.analyze.reports import local_range, utc_window
        from amtspuls.analyze.topics import topics_report

        if semantic not in ("auto", "on", "off"):
            raise UserError("--semantic must be auto, on or off")
        if limit < 1:
            raise UserError("--limit must be at least 1")
        if n_topics is not None and n_topics < 1:
            raise UserError("--topics must be at least 1")
        st = state(ctx)
        store = st.store()
        the_site = store.ensure_site(site)
        d_from, d_to = local_range(the_site, parse_date(date_from, "--from"),
                                   parse_date(date_to, "--to"), store)
        lo, hi = utc_window(the_site, d_from, d_to)
        result = topics_report(store, the_site, lo, hi, d_from, d_to, st.settings.k_anonymity,
                               limit, {"auto": None, "on": True, "off": False}[semantic],
                               n_topics)
        if json_out:
            emit_json(result)
            return
        typer.echo(f"{result['queries']:,} Suchanfragen, {result['searches']:,} Suchen, "
                   f"{len(result['topics'])} Themen ({result['from']} bis {result['to']})")
        for t in result["topics"]:
            trend = f"{t['trend']:+.0%}" if t["trend"] is not None else t["trend_label"]
            typer.echo(f"{t['id']:>3}. {t['label']} – {t['size']:,} Suchen ({trend}), "
                       f"ohne Treffer {t['no_result_share'] or 0:.0%}; "
                       f"Beispiele: {', '.join(t['examples'][:3]) or '–'}")

    catalog_app = typer.Typer(help="The site's service catalogue (URL patterns, synonyms).",
                              no_args_is_help=True)
    app.add_typer(catalog_app, name="catalog")

    @catalog_app.command("init")
    def catalog_init_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site"),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Write DATA/catalog/DOMAIN.toml from leistungen.csv, to be edited by the city."""
        from amtspuls.catalog.site import catalog_path, default_site_catalog, write_site_catalog

        st = state(ctx)
        the_site = st.store().ensure_site(site)
        path = catalog_path(st.settings.data_dir, the_site.domain)
        if path.exists() and not force:
            raise UserError(f"{path} exists (use --force to overwrite)")
        written = write_site_catalog(st.settings.data_dir, default_site_catalog(the_site.domain))
        if json_out:
            emit_json({"site": the_site.domain, "path": str(written)})
        else:
            typer.echo(str(written))
