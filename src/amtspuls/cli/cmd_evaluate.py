"""`amtspuls evaluate …`: score analyses against a ground truth (the simulator's
truth.json). A command group: `detect` here; siblings (e.g. `recommend`) add themselves
with `@evaluate_app.command(…)` in their own module via `evaluate_group(app)`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from amtspuls.cli.common import emit_json, state
from amtspuls.errors import UserError

_GROUP: dict[int, typer.Typer] = {}


def evaluate_group(app: typer.Typer) -> typer.Typer:
    """The `evaluate` sub-app of this CLI (created once, shared by all modules)."""
    group = _GROUP.get(id(app))
    if group is None:
        group = typer.Typer(help="Analysen gegen eine Ground Truth bewerten.",
                            no_args_is_help=True)
        app.add_typer(group, name="evaluate")
        _GROUP[id(app)] = group
    return group


def read_truth(path: str) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        p = p / "truth.json"
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"--truth: {p} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"--truth: {p} is not a readable JSON file ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("incidents", []), list):
        raise UserError(f"--truth: {p} has no list of incidents")
    return doc


def register(app: typer.Typer) -> None:
    group = evaluate_group(app)

    @group.command("detect")
    def evaluate_detect_cmd(
        ctx: typer.Context,
        site: str = typer.Option(..., "--site", help="Site domain"),
        truth: str = typer.Option(..., "--truth", help="truth.json (or its directory)"),
        bundesland: str = typer.Option(None, "--bundesland",
                                       help="Default: the truth file's, else the config's"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Precision, recall, false alarms per 30 days and detection delay of the early
        warning on what was imported, against the incidents of a truth file."""
        from amtspuls.analyze.detect.config import load_warning_config
        from amtspuls.analyze.detect.evaluate import evaluate_detect

        doc = read_truth(truth)
        st = state(ctx)
        store = st.store()
        the_site = store.get_site(site)
        if the_site is None:
            raise UserError(f"unknown site {site!r} (import its data first)")
        cfg = load_warning_config(st.settings).detect
        if bundesland:
            cfg.bundesland = bundesland.strip().upper()
        result = evaluate_detect(store, the_site, doc, cfg, st.settings.session_timeout_minutes)
        if json_out:
            emit_json(result)
            return
        typer.echo(
            f"Präzision {result['precision']}, Trefferquote {result['recall']}, "
            f"{result['false_alarms_per_30_days']} Fehlalarme je 30 Tage, "
            f"Median-Verzögerung {result['median_delay_minutes']} min"
        )
        for kind, row in result["by_kind"].items():
            typer.echo(f"  {kind}: {row['detected']}/{row['incidents']} erkannt, "
                       f"Median {row['median_delay_minutes']} min")
