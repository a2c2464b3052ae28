"""Charts as inline SVG, drawn on the server: no script, no third-party request.

Each chart is an `<svg role="img">` with a title and a description naming what it shows;
the page puts the same figures in a table next to it (the accessible alternative). Colours
come from classes in dashboard.css (contrast ≥ 3:1 against the background, WCAG 1.4.11);
lines differ by dash pattern too, never by colour alone."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

_ids = itertools.count(1)

W, H = 720, 260
PAD_L, PAD_R, PAD_T, PAD_B = 64, 16, 16, 40


@dataclass
class Series:
    label: str
    values: list[float | None]
    kind: str = "main"  # main | compare | forecast | s1..s5
    lower: list[float | None] | None = None  # an interval band (forecasts)
    upper: list[float | None] | None = None


@dataclass
class Chart:
    title: str
    svg: Markup
    description: str = ""
    legend: list[tuple[str, str]] = field(default_factory=list)  # (kind, label)


def nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _num(value: float, fmt: Callable[[float], str]) -> str:
    return fmt(value)


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[Series],
               fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
               description: str = "") -> Chart:
    """Lines over shared x labels (days, hours, weeks); an optional band per series."""
    uid = f"c{next(_ids)}"
    n = len(x_labels)
    values = [v for s in series for v in (*s.values, *(s.upper or ())) if v is not None]
    top = nice_max(max(values) if values else 0)
    inner_w, inner_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def x(i: int) -> float:
        return PAD_L + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: float) -> float:
        return PAD_T + inner_h * (1 - v / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" class="chart" focusable="false">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(description or title)}</desc>',
    ]
    for i in range(5):  # grid and y axis labels
        v = top * i / 4
        parts.append(f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(v):.1f}" '
                     f'y2="{y(v):.1f}"/>')
        parts.append(f'<text class="axis" x="{PAD_L - 6}" y="{y(v) + 4:.1f}" '
                     f'text-anchor="end">{escape(_num(v, fmt))}</text>')
    step = max(1, math.ceil(n / 8))
    for i in range(0, n, step):
        parts.append(f'<text class="axis" x="{x(i):.1f}" y="{H - PAD_B + 18}" '
                     f'text-anchor="middle">{escape(x_labels[i])}</text>')
    for s in series:
        if s.lower is not None and s.upper is not None:
            pts = [(x(i), y(u)) for i, u in enumerate(s.upper) if u is not None]
            pts += [(x(i), y(lo)) for i, lo in reversed(list(enumerate(s.lower)))
                    if lo is not None]
            if pts:
                d = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
                parts.append(f'<polygon class="band band-{escape(s.kind)}" points="{d}"/>')
        segments: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(s.values):
            if v is None:
                segments.append([])
            else:
                segments[-1].append((x(i), y(v)))
        for seg in segments:
            if len(seg) == 1:
                parts.append(f'<circle class="dot line-{escape(s.kind)}" cx="{seg[0][0]:.1f}" '
                             f'cy="{seg[0][1]:.1f}" r="3"/>')
            elif seg:
                d = " ".join(f"{a:.1f},{b:.1f}" for a, b in seg)
                parts.append(f'<polyline class="line line-{escape(s.kind)}" points="{d}"/>')
    parts.append("</svg>")
    return Chart(title, Markup("".join(parts)), description,
                 [(s.kind, s.label) for s in series])


def bar_chart(title: str, rows: Sequence[tuple[str, float]],
              fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
              description: str = "") -> Chart:
    """Horizontal bars, one per row, with the label and value written out."""
    uid = f"c{next(_ids)}"
    bar_h, gap, label_w = 20, 6, 260
    height = max(1, len(rows)) * (bar_h + gap) + 8
    top = nice_max(max((v for _, v in rows), default=0))
    inner = W - label_w - 80
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" class="chart" focusable="false">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(description or title)}</desc>',
    ]
    for i, (label, value) in enumerate(rows):
        yy = 4 + i * (bar_h + gap)
        w = inner * (value / top) if top else 0
        short = label if len(label) <= 40 else label[:39] + "…"
        parts.append(f'<text class="axis" x="{label_w - 8}" y="{yy + 14}" '
                     f'text-anchor="end">{escape(short)}</text>')
        parts.append(f'<rect class="bar" x="{label_w}" y="{yy}" width="{max(w, 1):.1f}" '
                     f'height="{bar_h}"/>')
        parts.append(f'<text class="value" x="{label_w + w + 6:.1f}" y="{yy + 14}">'
                     f'{escape(fmt(value))}</text>')
    parts.append("</svg>")
    return Chart(title, Markup("".join(parts)), description)


@dataclass
class MapPoint:
    lat: float
    lon: float
    label: str
    group: str | None = None  # points of one duplicate group are joined


def point_map(title: str, points: Sequence[MapPoint], description: str = "") -> Chart:
    """Latitude/longitude points on a plain grid (no map tiles, nothing external);
    members of one duplicate group are joined by lines and drawn as rings."""
    uid = f"c{next(_ids)}"
    size_w, size_h, pad = W, 420, 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size_w} {size_h}" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" class="chart map" focusable="false">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(description or title)}</desc>',
        f'<rect class="map-bg" x="0" y="0" width="{size_w}" height="{size_h}"/>',
    ]
    if points:
        lats = [p.lat for p in points]
        lons = [p.lon for p in points]
        lat_lo, lat_hi = min(lats), max(lats)
        lon_lo, lon_hi = min(lons), max(lons)
        # equirectangular with the longitude scaled by cos(latitude)
        k = math.cos(math.radians((lat_lo + lat_hi) / 2))
        span_x = max((lon_hi - lon_lo) * k, 1e-4)
        span_y = max(lat_hi - lat_lo, 1e-4)
        scale = min((size_w - 2 * pad) / span_x, (size_h - 2 * pad) / span_y)

        def xy(p: MapPoint) -> tuple[float, float]:
            return (pad + (p.lon - lon_lo) * k * scale,
                    size_h - pad - (p.lat - lat_lo) * scale)

        for i in range(1, 4):
            parts.append(f'<line class="grid" x1="0" x2="{size_w}" y1="{size_h * i / 4:.0f}" '
                         f'y2="{size_h * i / 4:.0f}"/>')
            parts.append(f'<line class="grid" y1="0" y2="{size_h}" x1="{size_w * i / 4:.0f}" '
                         f'x2="{size_w * i / 4:.0f}"/>')
        groups: dict[str, list[MapPoint]] = {}
        for p in points:
            if p.group:
                groups.setdefault(p.group, []).append(p)
        for members in groups.values():
            if len(members) > 1:
                a = xy(members[0])
                for m in members[1:]:
                    b = xy(m)
                    parts.append(f'<line class="dup-link" x1="{a[0]:.1f}" y1="{a[1]:.1f}" '
                                 f'x2="{b[0]:.1f}" y2="{b[1]:.1f}"/>')
        for p in points:
            cx, cy = xy(p)
            dup = p.group is not None and len(groups.get(p.group, ())) > 1
            cls = "pt dup" if dup else "pt"
            parts.append(f'<circle class="{cls}" cx="{cx:.1f}" cy="{cy:.1f}" r="{6 if dup else 4}">'
                         f'<title>{escape(p.label)}</title></circle>')
    parts.append("</svg>")
    return Chart(title, Markup("".join(parts)), description)
