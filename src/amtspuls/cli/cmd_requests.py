"""`amtspuls requests …`: citizen service requests (Open311) — import, triage, training,
model card, workload, reviews, audit log and Open311 API keys."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from amtspuls.cli.common import emit_json, state
from amtspuls.errors import UserError


def _as_of(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC).replace(tzinfo=None)
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"--as-of: expected an ISO date/time, got {value!r}") from None
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    return t


def register(app: typer.Typer) -> None:
    req = typer.Typer(help="Bürgermeldungen (Open311): Import, Triage, Arbeitslast.",
                      no_args_is_help=True)
    app.add_typer(req, name="requests")

    @req.command("import")
    def import_cmd(
        ctx: typer.Context,
        file: Path = typer.Argument(..., help="File to import (.json, .jsonl, .csv, .gz)"),
        site: str = typer.Option(..., "--site", help="Site domain"),
        fmt: str = typer.Option("open311", "--format",
                                help="open311 (JSON array or lines) | konstanz | csv"),
        mapping: list[str] = typer.Option(None, "--map", help="COLUMN=FIELD (csv)"),
        no_triage: bool = typer.Option(False, "--no-triage", help="Store only"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Import service requests; rejected rows are reported with their reasons."""
        from amtspuls.analyze.triage.intake import import_requests

        st = state(ctx)
        store = st.store()
        the_site = store.ensure_site(site)
        report = import_requests(store, the_site, st.settings, file, fmt, mapping,
                                 triage=not no_triage)
        if json_out:
            emit_json(report)
            return
        typer.echo(f"{report['imported']:,} Meldungen importiert, {report['rejected']:,} "
                   f"abgelehnt, {report['triaged']:,} triagiert ({report['seconds']} s).")
        for reason, n in report["rejected_by_reason"].items():
            typer.echo(f"  abgelehnt ({reason}): {n:,}")
        for row in report["rejected_rows"][:10]:
            typer.echo(f"  Zeile {row['line']}: {row['reason']} {row['detail']}")

    @req.command("triage")
    def triage_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site"),
        as_of: str = typer.Option(None, "--as-of", help="Time to judge waiting times (UTC)"),
        ids: list[str] = typer.Option(None, "--id", help="Only these requests (output)"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Suggest category, priority, duplicates and department for every request."""
        from amtspuls.analyze.triage.engine import Triage, public_view

        st = state(ctx)
        store = st.store()
        the_site = store.ensure_site(site)
        results = Triage(store, the_site, st.settings).run_all(as_of=_as_of(as_of))
        if ids:
            wanted = set(ids)
            results = [r for r in results if r["service_request_id"] in wanted]
        out = [public_view(r) for r in results]
        if json_out:
            emit_json(out)
            return
        for r in out:
            cat = r["category"][0] if r["category"] else {"service_id": "none", "probability": 0}
            typer.echo(f"{r['service_request_id']}\tP{r['priority']}\t{cat['service_id']} "
                       f"({cat['probability']:.2f})\t{r['department'] or '-'}\t"
                       f"Vorgang {r['duplicate_group']}")

    @req.command("train")
    def train_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Train the site's category model on its history and reviews."""
        from amtspuls.analyze.triage.training import train_site

        st = state(ctx)
        store = st.store()
        card = train_site(store, store.ensure_site(site), st.settings)
        if json_out:
            emit_json(card)
            return
        m = card["metrics"]
        typer.echo(f"Modell {card['model_version']}: {card['training_data']['requests']:,} "
                   f"Meldungen; Genauigkeit {m.get('accuracy', '–')}, Makro-F1 "
                   f"{m.get('macro_f1', '–')} (neueste 20 %).")

    @req.command("model-card")
    def card_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """The current model's card: training data, date, method, metrics."""
        import json

        from amtspuls.analyze.triage.training import model_card

        st = state(ctx)
        store = st.store()
        card = model_card(store, store.ensure_site(site), st.settings)
        if json_out:
            emit_json(card)
        else:
            typer.echo(json.dumps(card, ensure_ascii=False, indent=2, default=str))

    @req.command("workload")
    def workload_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site"),
        as_of: str = typer.Option(None, "--as-of"),
        bundesland: str = typer.Option(None, "--bundesland", help="e.g. NW, BW, BY"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Open requests per department, their age, SLA targets and the overdue list."""
        from amtspuls.analyze.triage.config import config_for
        from amtspuls.analyze.triage.workload import workload
        from amtspuls.store.requests_store import RequestStore

        st = state(ctx)
        store = st.store()
        the_site = store.ensure_site(site)
        rs = RequestStore(store)
        open_reqs = rs.list_requests(the_site.id, statuses=["open"])
        tri = rs.triage_of(the_site.id)
        result = workload(config_for(st.settings), open_reqs, tri, the_site.timezone,
                          _as_of(as_of), bundesland)
        if json_out:
            emit_json(result)
            return
        typer.echo(f"Offen: {result['open']:,}, überfällig: {result['overdue']:,}")
        for d in result["departments"]:
            typer.echo(f"  {d['department']}: {d['open']} offen, {d['overdue']} überfällig, "
                       f"Median {d['median_age_days']} Tage")

    @req.command("review")
    def review_cmd(
        ctx: typer.Context,
        request_id: str = typer.Argument(...),
        site: str = typer.Option(..., "--site"),
        decision: str = typer.Option(..., "--decision", help="confirm | correct"),
        service: str = typer.Option(None, "--service"),
        priority: int = typer.Option(None, "--priority"),
        duplicate_of: str = typer.Option(None, "--duplicate-of"),
        reviewer: str = typer.Option(None, "--reviewer"),
        note: str = typer.Option(None, "--note"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Confirm or correct a suggestion (used at the next training)."""
        from amtspuls.analyze.triage.engine import record_review

        st = state(ctx)
        store = st.store()
        try:
            out = record_review(store, store.ensure_site(site), request_id, decision,
                                service_id=service, priority=priority,
                                duplicate_of=duplicate_of, reviewer=reviewer, note=note,
                                settings=st.settings)
        except LookupError:
            raise UserError(f"no request {request_id!r} on {site}") from None
        if json_out:
            emit_json(out)
        else:
            typer.echo(f"{request_id}: {decision} ({out['service_id']})")

    @req.command("log")
    def log_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site"),
        request_id: str = typer.Option(None, "--id"),
        limit: int = typer.Option(100, "--limit", min=1, max=100000),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Logged suggestions with their inputs and model version."""
        from amtspuls.store.requests_store import RequestStore

        st = state(ctx)
        store = st.store()
        rows = RequestStore(store).log_entries(store.ensure_site(site).id, request_id, limit)
        if json_out:
            emit_json(rows)
            return
        for r in rows:
            typer.echo(f"{r['ts']}\t{r['service_request_id']}\t{r['model_version']}\t"
                       f"P{r['suggestion']['priority']}")

    keys = typer.Typer(help="API-Schlüssel für Open311-Clients.", no_args_is_help=True)
    req.add_typer(keys, name="api-key")

    @keys.command("add")
    def key_add(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="Who uses the key, e.g. the city's app"),
        role: str = typer.Option("open311", "--role",
                                 help="open311 (post requests) | clerk (also review, raw text)"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Create (or replace) a key; it is shown once, only its hash is stored."""
        from amtspuls.store.requests_store import RequestStore

        if role not in ("open311", "clerk"):
            raise UserError("--role must be open311 or clerk")
        if not name.strip() or len(name) > 100:
            raise UserError("NAME must be 1–100 characters")
        key = RequestStore(state(ctx).store()).add_api_key(name.strip(), role)
        if json_out:
            emit_json({"name": name.strip(), "role": role, "api_key": key})
        else:
            typer.echo(key)

    @keys.command("list")
    def key_list(ctx: typer.Context, json_out: bool = typer.Option(False, "--json")) -> None:
        """List keys (names, prefixes, roles; never the keys)."""
        from amtspuls.store.requests_store import RequestStore

        rows = RequestStore(state(ctx).store()).list_api_keys()
        if json_out:
            emit_json(rows)
            return
        for r in rows:
            typer.echo(f"{r['name']}\t{r['prefix']}…\t{r['role']}\t"
                       f"{'widerrufen' if r['revoked'] else 'aktiv'}")

    @keys.command("revoke")
    def key_revoke(ctx: typer.Context, name: str = typer.Argument(...),
                   json_out: bool = typer.Option(False, "--json")) -> None:
        """Revoke a key."""
        from amtspuls.store.requests_store import RequestStore

        if not RequestStore(state(ctx).store()).revoke_api_key(name):
            raise UserError(f"no active key named {name!r}")
        if json_out:
            emit_json({"name": name, "revoked": True})
        else:
            typer.echo(f"{name}: widerrufen")
