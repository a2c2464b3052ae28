"""`amtspuls recommend` (ranked recommendations) and `amtspuls recommendation …` (their
lifecycle: show, accept, done, dismiss, reopen)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from amtspuls.cli.cmd_evaluate import evaluate_group, read_truth
from amtspuls.cli.common import emit_json, parse_date, state
from amtspuls.errors import UserError


def _site(st, domain: str):
    store = st.store()
    site = store.get_site(domain)
    if site is None:
        raise UserError(f"unknown site {domain!r} (see `amtspuls site list`)")
    return store, site


def register(app: typer.Typer) -> None:
    @app.command("recommend")
    def recommend_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site", help="Site domain"),
        date_from: str = typer.Option(None, "--from", help="ISO date (default: 28 days "
                                                           "before --to)"),
        date_to: str = typer.Option(None, "--to", help="ISO date (default: last day with "
                                                       "data)"),
        status: str = typer.Option(None, "--status", help="open | accepted | done | "
                                                          "dismissed"),
        service: str = typer.Option(None, "--service", help="Only this service id"),
        limit: int = typer.Option(None, "--limit", min=1),
        llm: bool = typer.Option(False, "--llm", help="Add generated wording (needs "
                                                      "llm_base_url in amtspuls.toml)"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Handlungsempfehlungen: ranked actions with their evidence (and proof when done)."""
        from amtspuls.recommend import engine
        from amtspuls.store.recommendations import STATUSES

        if status is not None and status not in STATUSES:
            raise UserError(f"--status must be one of {', '.join(STATUSES)}")
        d_from, d_to = parse_date(date_from, "--from"), parse_date(date_to, "--to")
        st = state(ctx)
        store, the_site = _site(st, site)
        engine.run(store, the_site, st.settings, d_from, d_to)
        recs = engine.list_recommendations(store, the_site, status, limit, service)
        if llm:
            from amtspuls.recommend.wording import add_wording

            recs = add_wording(store, st.settings, recs)
        if json_out:
            emit_json(recs)
            return
        _print(recs)

    @evaluate_group(app).command("recommend")
    def evaluate_recommend_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site", help="Site domain"),
        truth: str = typer.Option(..., "--truth", help="truth.json (or its directory)"),
        date_from: str = typer.Option(None, "--from"),
        date_to: str = typer.Option(None, "--to"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Recall and precision of the recommendations against the problems injected in a
        simulator run (truth.json)."""
        from amtspuls.recommend import engine
        from amtspuls.recommend.evaluate import evaluate

        doc = read_truth(truth)
        st = state(ctx)
        store, the_site = _site(st, site)
        d_from, d_to = engine.analysis_window(store, the_site, parse_date(date_from, "--from"),
                                              parse_date(date_to, "--to"))
        engine.run(store, the_site, st.settings, d_from, d_to)
        recs = engine.list_recommendations(store, the_site)
        result = evaluate(recs, doc, d_from, d_to, engine.request_days(store, the_site))
        if json_out:
            emit_json(result)
            return
        typer.echo(f"Trefferquote {result['recall']}, Präzision {result['precision']} "
                   f"({result['expected']} Probleme im Zeitraum {result['window']})")
        for p in result["missed"]:
            typer.echo(f"  verpasst: {p['type']} {p['service_id']} {p.get('path') or ''}")
        for r in result["unfounded"]:
            typer.echo(f"  unbegründet: {r['kind']} {r['service_id']} {r['title']}")

    group = typer.Typer(help="Eine Empfehlung ansehen oder ihren Status ändern.",
                        no_args_is_help=True)
    app.add_typer(group, name="recommendation")

    def _change(ctx: typer.Context, site: str, rec: str, status: str, reason: str | None,
                day: str | None, json_out: bool) -> None:
        from amtspuls.recommend import engine

        st = state(ctx)
        store, the_site = _site(st, site)
        out = engine.set_status(store, the_site, rec, status, "cli", reason,
                                parse_date(day, "--date"))
        if json_out:
            emit_json(out)
        else:
            _print_one(out)

    @group.command("show")
    def show_cmd(ctx: typer.Context, rec: str = typer.Argument(...),
                 site: str = typer.Option(..., "--site"),
                 json_out: bool = typer.Option(False, "--json")) -> None:
        """One recommendation with its evidence, proof and history."""
        from amtspuls.recommend import engine

        st = state(ctx)
        store, the_site = _site(st, site)
        out = engine.get_recommendation(store, the_site, rec)
        if json_out:
            emit_json(out)
        else:
            _print_one(out)

    @group.command("accept")
    def accept_cmd(ctx: typer.Context, rec: str = typer.Argument(...),
                   site: str = typer.Option(..., "--site"),
                   json_out: bool = typer.Option(False, "--json")) -> None:
        """Accept: somebody will act on it."""
        _change(ctx, site, rec, "accepted", None, None, json_out)

    @group.command("done")
    def done_cmd(ctx: typer.Context, rec: str = typer.Argument(...),
                 site: str = typer.Option(..., "--site"),
                 day: str = typer.Option(None, "--date", help="Day the change went live "
                                                              "(default today)"),
                 json_out: bool = typer.Option(False, "--json")) -> None:
        """Done: the change is live; its effect is measured before/after."""
        _change(ctx, site, rec, "done", None, day, json_out)

    @group.command("dismiss")
    def dismiss_cmd(ctx: typer.Context, rec: str = typer.Argument(...),
                    site: str = typer.Option(..., "--site"),
                    reason: str = typer.Option(..., "--reason"),
                    json_out: bool = typer.Option(False, "--json")) -> None:
        """Dismiss with a reason; it stays hidden unless its evidence grows."""
        _change(ctx, site, rec, "dismissed", reason, None, json_out)

    @group.command("reopen")
    def reopen_cmd(ctx: typer.Context, rec: str = typer.Argument(...),
                   site: str = typer.Option(..., "--site"),
                   json_out: bool = typer.Option(False, "--json")) -> None:
        """Back to open."""
        _change(ctx, site, rec, "open", None, None, json_out)


def _print(recs: list[dict]) -> None:
    table = Table(title="Handlungsempfehlungen", expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Empfehlung", ratio=1)
    table.add_column("Wirkung/Woche", justify="right", no_wrap=True)
    table.add_column("Konfidenz", justify="right", no_wrap=True)
    table.add_column("Status / ID", no_wrap=True)
    for i, r in enumerate(recs, 1):
        impact = r["impact"]["affected_visits_per_week"] + r["impact"][
            "affected_requests_per_week"]
        table.add_row(str(i), f"[bold]{r['title']}[/bold]\n{r['kind_label']} · "
                      f"{r['service_id']}", f"{impact:,.0f}", f"{r['confidence']:.2f}",
                      f"{r['status']}\n{r['id']}")
    Console().print(table)


def _print_one(r: dict) -> None:
    c = Console()
    c.print(f"[bold]{r['title']}[/bold]  ({r['status']}, {r['id']})")
    c.print(r["action"])
    for ev in r["evidence"]:
        c.print(f"  {ev['metric']}: {ev['value']} (üblich {ev['baseline']}), {ev['period']}")
    if r.get("effect"):
        c.print(f"  Wirkung: {r['effect'].get('text_de')}")
