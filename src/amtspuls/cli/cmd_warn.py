"""Early warning and forecasting: `amtspuls detect`, `amtspuls watch`, `amtspuls forecast`."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.table import Table

from amtspuls.cli.common import emit_json, parse_date, state
from amtspuls.errors import UserError


def _bundesland(value: str | None) -> str | None:
    if value is None:
        return None
    import holidays

    value = value.strip().upper()
    try:
        holidays.country_holidays("DE", subdiv=value)
    except NotImplementedError:
        raise UserError(f"--bundesland: unknown German state {value!r} (NW, BY, BW …)") from None
    return value


def register(app: typer.Typer) -> None:
    @app.command("detect")
    def detect_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site", help="Site domain"),
        date_from: str = typer.Option(None, "--from", help="ISO date, site time zone"),
        date_to: str = typer.Option(None, "--to", help="ISO date, site time zone"),
        bundesland: str = typer.Option(None, "--bundesland",
                                       help="State whose public holidays count (NW, BY …)"),
        threshold: float = typer.Option(None, "--threshold",
                                        help="Score that raises an alert (default 6.5)"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Anomalies (spikes and drops) of a date range, scored as the live stream would."""
        from amtspuls.analyze.detect.config import load_warning_config
        from amtspuls.analyze.detect.runner import run_detect

        st = state(ctx)
        store = st.store()
        the_site = store.ensure_site(site)
        cfg = load_warning_config(st.settings).detect
        if bundesland:
            cfg.bundesland = _bundesland(bundesland)
        if threshold is not None:
            if threshold <= 0:
                raise UserError("--threshold must be positive")
            cfg.threshold = threshold
        alerts = run_detect(store, the_site, parse_date(date_from, "--from"),
                            parse_date(date_to, "--to"), cfg,
                            st.settings.session_timeout_minutes)
        if json_out:
            emit_json(alerts)
            return
        if not alerts:
            typer.echo("Keine Auffälligkeiten.")
            return
        table = Table(title=f"Auffälligkeiten {the_site.domain}")
        for col in ("erkannt (UTC)", "Signal", "Leistung/Bereich", "Richtung", "beob.", "erw.",
                    "Score", "Stufe"):
            table.add_column(col)
        for a in alerts:
            ev = a["evidence"]
            table.add_row(ev["detected_at"], a["signal"], ev.get("page_group") or a["service_id"],
                          "↑" if a["direction"] == "up" else "↓", f"{a['observed']:g}",
                          f"{a['expected']:.1f}", f"{a['score']:.1f}", a["severity"])
        Console().print(table)

    @app.command("watch")
    def watch_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site", help="Site domain"),
        interval: float = typer.Option(None, "--interval", help="Seconds between rounds"),
        once: bool = typer.Option(False, "--once", help="One round, then exit"),
        webhook: list[str] = typer.Option(None, "--webhook", help="Webhook URL (repeatable)"),
        webhook_format: str = typer.Option("json", "--webhook-format",
                                           help="json | chat (Slack/Matrix/Mattermost) | teams"),
        email_to: list[str] = typer.Option(None, "--email-to", help="Recipient (repeatable)"),
        smtp_host: str = typer.Option("localhost", "--smtp-host"),
        smtp_port: int = typer.Option(25, "--smtp-port"),
        smtp_from: str = typer.Option("amtspuls@localhost", "--smtp-from"),
        bundesland: str = typer.Option(None, "--bundesland"),
        json_out: bool = typer.Option(False, "--json", help="With --once: one JSON summary"),
    ) -> None:
        """Score new events every minute and send alerts (channels from DATA/amtspuls.toml
        and these options). `amtspuls serve` runs the same loop for all sites."""
        from amtspuls.analyze.detect.config import load_warning_config
        from amtspuls.serve.alerts import Email, Watcher, Webhook, parse_channels

        st = state(ctx)
        store = st.store()
        the_site = store.ensure_site(site)
        wcfg = load_warning_config(st.settings)
        if bundesland:
            wcfg.detect.bundesland = _bundesland(bundesland)
        if interval is not None:
            if interval < 1:
                raise UserError("--interval must be at least 1 second")
            wcfg.interval_seconds = interval
        channels = parse_channels(wcfg.channels)
        if webhook_format not in ("json", "chat", "slack", "matrix", "teams"):
            raise UserError("--webhook-format must be json, chat, slack, matrix or teams")
        for url in webhook or []:
            if not url.startswith(("http://", "https://")):
                raise UserError(f"--webhook: not an http(s) URL: {url!r}")
            channels.append(Webhook(url=url, format=webhook_format))
        if email_to:
            channels.append(Email(to=list(email_to), host=smtp_host, port=smtp_port,
                                  sender=smtp_from))
        watcher = Watcher(st.settings, store, wcfg, channels, [the_site.domain])
        console = Console(stderr=True)
        try:
            while True:
                changed = watcher.round()
                if once:
                    break
                for c in changed:
                    console.print(f"{c['event']}: {c['evidence'].get('message_de', c['signal'])}")
                time.sleep(wcfg.interval_seconds)
        except KeyboardInterrupt:
            pass
        finally:
            watcher.close()
        if once:
            from amtspuls.serve.alerts import alerts_with_deliveries

            stream = watcher.streams.get(the_site.id)
            summary = {
                "site": the_site.domain,
                "scored_until": stream.last_round.get("scored_until") if stream else None,
                "changed": [{k: c[k] for k in ("event", "id", "signal", "service_id",
                                               "direction", "severity")} for c in changed],
                "open_alerts": alerts_with_deliveries(store, the_site, "open"),
            }
            if json_out:
                emit_json(summary)
            else:
                typer.echo(f"{the_site.domain}: bewertet bis {summary['scored_until']}, "
                           f"{len(changed)} Änderungen, {len(summary['open_alerts'])} offen")

    @app.command("forecast")
    def forecast_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site", help="Site domain"),
        service: str = typer.Option(None, "--service", help="One service id"),
        all_services: bool = typer.Option(False, "--all", help="All services (default)"),
        horizon: int = typer.Option(28, "--horizon", help="Days ahead (1–90)"),
        backtest: bool = typer.Option(False, "--backtest",
                                      help="Rolling-origin backtest: MASE, interval coverage"),
        min_visits: float = typer.Option(20.0, "--min-visits",
                                         help="Backtest mean over services with this many "
                                              "daily visits"),
        bundesland: str = typer.Option(None, "--bundesland"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Daily demand per service with 80/95 % intervals and a weekly staffing view."""
        from amtspuls.analyze.detect.config import load_warning_config
        from amtspuls.analyze.forecast import backtest_site, forecast_site

        if service and all_services:
            raise UserError("use --service ID or --all, not both")
        st = state(ctx)
        store = st.store()
        the_site = store.ensure_site(site)
        land = _bundesland(bundesland) or load_warning_config(st.settings).detect.bundesland
        if backtest:
            result = backtest_site(store, the_site, service, horizon, land,
                                   min_visits=min_visits)
        else:
            result = forecast_site(store, the_site, service, horizon, land)
        if json_out:
            emit_json(result)
            return
        console = Console()
        if backtest:
            console.print(f"Mittlerer MASE {result['mean_mase']} (saisonal naiv "
                          f"{result['mean_mase_seasonal_naive']}), Abdeckung 80 %: "
                          f"{result['coverage_80']}, 95 %: {result['coverage_95']} "
                          f"({result['services_evaluated']} Leistungen)")
            return
        table = Table(title=f"Personalplanung {the_site.domain} (erwartete Werte je Woche)")
        for col in ("Woche", "Fachbereich", "Besuche", "Formulare", "Meldungen"):
            table.add_column(col)
        for row in result["staffing"]:
            def cell(kind: str, row: dict = row) -> str:
                v = row.get(kind)
                return f"{v['mean']:.0f} ({v['lo80']:.0f}–{v['hi80']:.0f})" if v else "–"
            table.add_row(row["week"], row["department"], cell("visits"), cell("forms"),
                          cell("requests"))
        console.print(table)
