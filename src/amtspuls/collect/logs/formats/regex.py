"""Line-regex formats (NCSA common/combined and their vhost variants, and any a city
declares): matched and split vectorised by the engine, one SQL statement per batch."""

from __future__ import annotations

import threading
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa

from amtspuls.collect.logs.formats.base import LogFormat, ParsedBatch, non_blank
from amtspuls.collect.logs.reader import LineBatch
from amtspuls.model import HIT_SCHEMA

KNOWN_FIELDS = {"ip", "host", "ts", "request", "method", "url", "status", "bytes", "referrer",
                "user_agent"}

_detect_lock = threading.Lock()
_detect_con: duckdb.DuckDBPyConnection | None = None


def _detector() -> duckdb.DuckDBPyConnection:
    global _detect_con
    if _detect_con is None:
        _detect_con = duckdb.connect(":memory:")
        _detect_con.execute("SET temp_directory = ''")
    return _detect_con


@dataclass(frozen=True)
class RegexSpec:
    name: str
    regex: str
    fields: tuple[str, ...]
    ts_format: str
    priority: int = 0


def load_specs(extra: Path | None = None) -> list[RegexSpec]:
    """Declared formats: the bundled table, then a city's own file (same shape)."""
    texts = [resources.files("amtspuls.data").joinpath("log_formats.toml").read_text("utf-8")]
    if extra and extra.is_file():
        texts.append(extra.read_text("utf-8"))
    specs: dict[str, RegexSpec] = {}
    for text in texts:
        for entry in tomllib.loads(text).get("format", []):
            fields = tuple(entry["fields"])
            unknown = set(fields) - KNOWN_FIELDS
            if unknown or "ts" not in fields:
                raise ValueError(f"log format {entry['name']}: bad fields {sorted(unknown)}")
            specs[entry["name"]] = RegexSpec(
                name=entry["name"],
                regex=entry["regex"],
                fields=fields,
                ts_format=entry["ts_format"],
                priority=int(entry.get("priority", 0)),
            )
    return list(specs.values())


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class RegexFormat(LogFormat):
    def __init__(self, spec: RegexSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.priority = spec.priority
        self._select = self._build_select()

    def match_rate(self, sample: list[str]) -> float:
        lines = non_blank(sample)
        if not lines:
            return 0.0
        with _detect_lock:
            con = _detector()
            table = pa.table({"line": pa.array(lines, pa.string())})
            con.register("sample_lines", table)
            try:
                ((rate,),) = con.execute(
                    f"SELECT avg(CASE WHEN try_strptime(regexp_extract(line, "
                    f"{_sql_str(self.spec.regex)}, {self._ts_group()}), "
                    f"{_sql_str(self.spec.ts_format)}) IS NULL THEN 0 ELSE 1 END) "
                    f"FROM sample_lines"
                ).fetchall()
            finally:
                con.unregister("sample_lines")
        return float(rate or 0.0)

    def _ts_group(self) -> int:
        return self.spec.fields.index("ts") + 1

    def _build_select(self) -> str:
        f = self.spec.fields
        names = "[" + ", ".join(_sql_str(n) for n in f) + "]"

        def field(name: str) -> str:
            return f"nullif(g.{name}, '')" if name in f else "NULL"

        def unescaped(name: str) -> str:
            return f"replace({field(name)}, '\\\"', '\"')" if name in f else "NULL"

        if "request" in f:
            req = "regexp_extract(replace(g.request, '\\\"', '\"'), '^([A-Za-z]+) +(\\S+)', ['method', 'url'])"
            method, url = "nullif(r.method, '')", "nullif(r.url, '')"
        else:
            req = "NULL::STRUCT(method VARCHAR, url VARCHAR)"
            method, url = field("method"), unescaped("url")
        ip = "trim(split_part(g.ip, ',', 1))" if "ip" in f else "NULL"
        status = "try_cast(g.status AS INTEGER)" if "status" in f else "NULL"
        nbytes = "try_cast(g.bytes AS BIGINT)" if "bytes" in f else "NULL"
        referrer = f"nullif({unescaped('referrer')}, '-')" if "referrer" in f else "NULL"
        ua = f"nullif({unescaped('user_agent')}, '-')" if "user_agent" in f else "NULL"
        return f"""
        WITH m AS (
            SELECT line_no, line, regexp_extract(line, {_sql_str(self.spec.regex)}, {names}) AS g
            FROM batch_lines
        ), p AS (
            SELECT *, try_strptime(g.ts, {_sql_str(self.spec.ts_format)}) AS ts_parsed, {req} AS r
            FROM m
        )
        SELECT
            line_no,
            CASE WHEN trim(line) = '' THEN 'blank'
                 WHEN ts_parsed IS NULL THEN 'malformed'
                 ELSE 'ok' END AS verdict,
            ts_parsed AS ts,
            nullif({ip}, '') AS ip,
            {ua} AS user_agent,
            {field('host')} AS host,
            {method} AS method,
            {url} AS url,
            {status} AS status,
            {nbytes} AS bytes,
            {referrer} AS referrer
        FROM p
        """

    def parse(self, batch: LineBatch, engine: duckdb.DuckDBPyConnection) -> ParsedBatch:
        n = len(batch.lines)
        table = pa.table(
            {
                "line_no": pa.array(range(batch.first_line_no, batch.first_line_no + n),
                                    pa.int64()),
                "line": pa.array(batch.lines, pa.string()),
            }
        )
        too_long = set(batch.too_long)
        engine.register("batch_lines", table)
        try:
            engine.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS {self._select}")
        finally:
            engine.unregister("batch_lines")
        malformed = [
            r[0]
            for r in engine.execute(
                "SELECT line_no FROM parsed WHERE verdict = 'malformed' ORDER BY line_no"
            ).fetchall()
        ]
        blank_rows = engine.execute(
            "SELECT line_no FROM parsed WHERE verdict = 'blank'"
        ).fetchall()
        blank = [r[0] for r in blank_rows if r[0] not in too_long]
        malformed = sorted(set(malformed) | too_long)
        cols = ", ".join(
            c if c in {"line_no", "ts", "ip", "user_agent", "host", "method", "url", "status",
                       "bytes", "referrer"} else f"NULL AS {c}"
            for c in HIT_SCHEMA.names
        )
        hits = engine.sql(
            f"SELECT {cols} FROM parsed WHERE verdict = 'ok' ORDER BY line_no"
        ).to_arrow_table()
        engine.execute("DROP TABLE parsed")
        skipped = {"blank": len(blank)} if blank else {}
        return ParsedBatch(hits=hits.cast(HIT_SCHEMA), malformed=malformed, skipped=skipped)
