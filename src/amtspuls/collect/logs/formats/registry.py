"""All known log formats, and detection of the one a file is written in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from amtspuls.collect.logs.formats.base import LogFormat
from amtspuls.collect.logs.formats.regex import RegexFormat, load_specs
from amtspuls.errors import UserError

# Structured formats register a factory here (name → callable returning a fresh instance).
_STRUCTURED: dict[str, Callable[[], LogFormat]] = {}


def register_format(name: str, factory: Callable[[], LogFormat]) -> None:
    _STRUCTURED[name] = factory


def _load_structured() -> None:
    # Imported for their register_format() side effect; a missing module is no error,
    # so the regex formats keep working while a structured one is being written.
    import importlib

    for module in ("json_formats", "w3c", "special"):
        try:
            importlib.import_module(f"amtspuls.collect.logs.formats.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"amtspuls.collect.logs.formats.{module}":
                raise


def registry(extra_formats: Path | None = None) -> dict[str, Callable[[], LogFormat]]:
    _load_structured()
    formats: dict[str, Callable[[], LogFormat]] = {}
    for spec in load_specs(extra_formats):
        formats[spec.name] = lambda spec=spec: RegexFormat(spec)
    formats.update(_STRUCTURED)
    return formats


def get_format(name: str, extra_formats: Path | None = None) -> LogFormat:
    formats = registry(extra_formats)
    if name not in formats:
        raise UserError(f"unknown log format {name!r}; known: {', '.join(sorted(formats))}")
    return formats[name]()


def detect(sample: list[str], extra_formats: Path | None = None) -> LogFormat | None:
    """The format that parses the largest share of the sample (ties: higher priority)."""
    best: tuple[float, int, str] | None = None
    best_fmt: LogFormat | None = None
    for name, factory in registry(extra_formats).items():
        fmt = factory()
        rate = fmt.match_rate(sample)
        if rate <= 0:
            continue
        key = (rate, fmt.priority, name)
        if best is None or key[:2] > best[:2]:
            best, best_fmt = key, fmt
    return best_fmt
