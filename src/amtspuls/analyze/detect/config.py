"""Settings of the early warning, from the `[warning]` table of `DATA/amtspuls.toml`
(documented in docs/fruehwarnung.md). Alert channels are read by `serve.alerts`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from amtspuls.config import Settings, read_section
from amtspuls.errors import UserError


@dataclass
class DetectConfig:
    # Bundesland (ISO 3166-2 suffix: NW, BY, …) whose public holidays count as Sundays.
    bundesland: str | None = None
    # Score (−log10 of the tail probability, corrected for the windows tried) that raises
    # an alert, and the lower score that keeps an open alert open.
    threshold: float = 6.5
    keep_threshold: float = 2.5
    # Per family: submission errors of a form that never fails are rare and serious.
    thresholds: dict[str, float] = field(default_factory=lambda: {"submit_error_rate": 5.0})
    # Sliding windows (minutes) over which counts are compared with the baseline.
    windows: tuple[int, ...] = (10, 30, 60, 180, 480, 1440)
    # Guards against statistically significant but tiny changes.
    min_count: int = 3
    # An excess (or shortfall) must also be at least this share of the signal's mean
    # daily count: a few extra visits at night are significant but not an incident.
    min_excess_share: float = 0.03
    min_ratio_up: float = 1.5
    max_ratio_down: float = 0.4
    min_expected_down: float = 12.0
    # An alert ends after this many minutes without an anomalous minute; a new alert of
    # the same signal and direction within the cool-down is merged into the previous one.
    quiet_minutes: int = 120
    cooldown_minutes: int = 360
    # Rate signals compare a window's numerator with the denominator of the window
    # extended this far back (an error follows its form start by minutes).
    rate_lag_minutes: int = 30
    # A signal raises alerts only after this many hours of its own history.
    warmup_hours: int = 72
    # Without this much history before the scored range, the baseline is first learnt
    # on the range's first `prime_days` (see docs/fruehwarnung.md).
    prime_days: int = 14
    # Baseline memory: hour-of-week slots (weeks), short-term level and rates (hours,
    # half-life); the dispersion uses the last 28 days.
    slot_memory_weeks: float = 8.0
    level_half_life_hours: float = 72.0
    rate_half_life_hours: float = 336.0
    # Strength of the pull of a sparse signal's hour-of-week profile towards its parent's
    # (in counts), and of the short-term level correction's prior (in counts).
    profile_prior: float = 8.0
    level_prior: float = 5.0
    min_dispersion: float = 0.004
    max_dispersion: float = 0.5
    # Open alerts are skipped for learning for at most this long (then the new level is
    # accepted as normal).
    max_alert_learning_pause_hours: float = 72.0
    # Page groups of news: their articles count for the group, not for a service that
    # the URL rules would map them to.
    news_groups: tuple[str, ...] = ("/aktuelles", "/news", "/nachrichten", "/presse",
                                    "/pressemitteilungen", "/meldungen", "/neuigkeiten",
                                    "/blog")
    # Families whose alerts are not raised at all (e.g. ["searches"]).
    disabled: tuple[str, ...] = ()


@dataclass
class WarningConfig:
    detect: DetectConfig = field(default_factory=DetectConfig)
    # Watch loop: seconds between rounds; whether `serve` runs it.
    interval_seconds: float = 60.0
    watch_in_serve: bool = True
    # Detector state is written to the store at most this often (minutes).
    persist_minutes: int = 15
    # Alerts detected more than this long after their data (catching up on an import)
    # are shown in the API but not sent.
    stale_minutes: int = 180
    # Raw table for the channels (parsed by serve.alerts).
    channels: dict[str, Any] = field(default_factory=dict)


def _coerce(value: Any, default: Any, name: str) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "ja", "on")
            return bool(value)
        if isinstance(default, int) and not isinstance(default, bool):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if default and isinstance(default[0], int):
                return tuple(int(v) for v in value)
            return tuple(str(v) for v in value)
    except (TypeError, ValueError):
        raise UserError(f"amtspuls.toml [warning] {name}: invalid value {value!r}") from None
    return value


def read_warning_table(settings: Settings) -> dict[str, Any]:
    return read_section(settings, "warning")


def load_warning_config(settings: Settings) -> WarningConfig:
    table = read_warning_table(settings)
    cfg = WarningConfig()
    det = cfg.detect
    for f in fields(DetectConfig):
        if f.name == "thresholds" and isinstance(table.get("thresholds"), dict):
            det.thresholds.update({str(k): float(v) for k, v in table["thresholds"].items()})
        elif f.name in table:
            setattr(det, f.name, _coerce(table[f.name], getattr(det, f.name), f.name))
    for name in ("interval_seconds", "watch_in_serve", "persist_minutes", "stale_minutes"):
        if name in table:
            setattr(cfg, name, _coerce(table[name], getattr(cfg, name), name))
    cfg.channels = {k: table[k] for k in ("webhook", "email") if k in table}
    return cfg
