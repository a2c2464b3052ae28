"""Helpers for the log-format tests: where the real logs are, and running a format over a
whole file the way `import-logs` does (detect on a sample, parse in batches). A module
of its own (not conftest) so that tests import it by a unique name."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from amtspuls.collect.logs.formats import LogFormat, detect
from amtspuls.collect.logs.reader import iter_batches, open_log, sample_lines

REALWORLD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "realworld"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
# Folders of ../shared/data/realworld copied (licence permitting) into tests/fixtures/logs.
LOCAL_COPIES = {
    "elastic-beats-filebeat-fixtures": "elastic-beats",
    "lnav-test-logs": "lnav",
    "goaccess-formats": "goaccess",
}


def real_log(rel: str) -> Path:
    """A real log by its path under realworld/: the local copy if there is one, else the
    shared data set; the test is skipped when neither is present."""
    top, _, rest = rel.partition("/")
    if top in LOCAL_COPIES:
        local = FIXTURES / LOCAL_COPIES[top] / rest
        if local.is_file():
            return local
    shared = REALWORLD / rel
    if not shared.is_file():
        pytest.skip(f"{rel}: not in tests/fixtures/logs and ../shared is absent")
    return shared


def utc(text: str) -> datetime:
    """'2012-02-10T21:42:07[.ffffff]' read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class FileResult:
    fmt: LogFormat | None
    lines: int = 0
    hits: dict[int, dict] = field(default_factory=dict)  # line_no → hit row
    malformed: list[int] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        return self.fmt.name if self.fmt else None


def run_file(path: Path, engine, fmt: LogFormat | None = None,
             batch_lines: int = 250_000) -> FileResult:
    fmt = fmt or detect(sample_lines(path))
    result = FileResult(fmt)
    if fmt is None:
        return result
    with open_log(path) as fh:
        for batch in iter_batches(fh, batch_lines, 65536):
            parsed = fmt.parse(batch, engine)
            result.lines += len(batch.lines)
            for row in parsed.hits.to_pylist():
                assert row["line_no"] not in result.hits
                result.hits[row["line_no"]] = row
            result.malformed.extend(parsed.malformed)
            for reason, count in parsed.skipped.items():
                result.skipped[reason] = result.skipped.get(reason, 0) + count
    result.malformed.sort()
    return result
