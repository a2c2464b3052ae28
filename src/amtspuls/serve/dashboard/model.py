"""What a dashboard page is made of: figures (KPIs), charts, tables with their CSV export,
notices and row actions. Pages are built from analysis results into these plain objects;
one template renders them all, and the CSV export reads the same tables."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from amtspuls.serve.dashboard.charts import Chart


@dataclass
class Col:
    key: str
    label: str
    kind: str = "text"  # text | int | float | num | pct | date | datetime | code | rich


@dataclass
class Part:
    """One paragraph of a `Rich` cell, optionally labelled (e.g. "KI-formuliert")."""

    text: str
    label: str = ""
    cls: str = ""
    lang: str = ""


@dataclass
class Rich:
    """A cell of several paragraphs (column kind `rich`); CSV and `data-value` get the
    plain text, the paragraphs joined."""

    parts: list[Part]

    def __str__(self) -> str:
        return " | ".join(f"{p.label}: {p.text}" if p.label else p.text for p in self.parts)


@dataclass
class Input:
    """A visible, labelled field of an action's form."""

    name: str
    label: str
    kind: str = "text"  # text | date
    maxlength: int | None = None
    required: bool = False  # marked for assistive technology; the server checks it


@dataclass
class Action:
    """A button that posts a small form (CSRF token added by the template)."""

    label: str
    url: str
    fields: dict[str, str] = field(default_factory=dict)
    danger: bool = False
    inputs: list[Input] = field(default_factory=list)
    hint: str = ""  # what the button acts on, for screen readers (the row's title)


@dataclass
class Table:
    id: str
    title: str
    columns: list[Col]
    rows: list[dict[str, Any]]
    note: str = ""
    actions: Callable[[dict[str, Any]], list[Action]] | None = None
    export: bool = True
    caption_level: int = 3

    def guard(self, k: int) -> Table:
        """k-anonymity, a last time: no row of fewer than k (but some) visitors is shown
        or exported, whatever its builder did (folded remainder rows have None)."""
        if k > 1 and any("visitors" in r for r in self.rows):
            self.rows = [r for r in self.rows
                         if r.get("visitors") is None or r["visitors"] == 0
                         or r["visitors"] >= k]
        return self


@dataclass
class Kpi:
    key: str
    label: str
    value: float | int | str | None
    kind: str = "int"
    compare: float | int | None = None  # the comparison period's value
    hint: str = ""


@dataclass
class Section:
    id: str
    title: str
    kpis: list[Kpi] = field(default_factory=list)
    chart: Chart | None = None
    chart_table: Table | None = None  # the chart's figures, as a table
    tables: list[Table] = field(default_factory=list)
    notice: str = ""  # e.g. a module that is not there yet, too little data
    text: str = ""
    buttons: list[Action] = field(default_factory=list)  # forms of the section itself
    live: bool = False  # updated by Server-Sent Events
    svg_map: Chart | None = None


@dataclass
class Page:
    slug: str
    title: str
    intro: str = ""
    sections: list[Section] = field(default_factory=list)
    # an extra choice of the page's form (the service of the journeys, the status of the
    # recommendations): its parameter name, its (German) label, value → label
    choices: list[tuple[str, str]] = field(default_factory=list)
    choice: str | None = None
    choice_name: str = "service"
    choice_label: str = "Leistung"

    def tables(self) -> dict[str, Table]:
        out = {}
        for s in self.sections:
            for t in [*([s.chart_table] if s.chart_table else []), *s.tables]:
                out[t.id] = t
        return out


# -- formatting --------------------------------------------------------------------------

def fmt_number(value: Any, kind: str, lang: str) -> str:
    if value is None:
        return "–"
    if kind in ("text", "code", "rich"):
        return str(value)
    if kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    if kind == "datetime":
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M")
        return str(value)[:16].replace("T", " ")
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if kind == "pct":
        text = f"{number * 100:,.1f}"
        text = _localise(text, lang)
        return text + (" %" if lang == "de" else "%")
    if kind == "num":  # as many decimals as needed, up to 2
        text = f"{number:,.2f}".rstrip("0").rstrip(".")
        return _localise("0" if text in ("-0", "") else text, lang)
    text = f"{number:,.0f}" if kind == "int" else f"{number:,.2f}"
    return _localise(text, lang)


def _localise(text: str, lang: str) -> str:
    if lang != "de":
        return text
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def raw_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


# Spreadsheet programs run cells that start like a formula (CSV injection): such text
# cells get a leading apostrophe. Search queries are citizens' free text.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = raw_value(value)
    return "'" + text if text.startswith(_FORMULA) else text


def to_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.label for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_cell(row.get(c.key)) for c in table.columns])
    return "\ufeff" + buf.getvalue()
