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
    fast: str = ""


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
                fast=str(entry.get("fast", "")),
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
        """SQL creating temp table `parsed` (line_no, verdict, ts, ip, user_agent, host,
        method, url, status, bytes, referrer) from every line of `batch_lines`."""
        f = self.spec.fields
        names = "[" + ", ".join(_sql_str(n) for n in f) + "]"
        regex = _sql_str(self.spec.regex)
        ts_fmt = _sql_str(self.spec.ts_format)
        slow = self._fields_from_groups(f)
        if self.spec.fast == "ncsa":
            return self._build_fast_select(f, names, regex, ts_fmt, slow)
        return f"""
        CREATE OR REPLACE TEMP TABLE u AS
        SELECT line_no, line, {slow}
        FROM (SELECT line_no, line, regexp_extract(line, {regex}, {names}) AS g
              FROM batch_lines);
        {self._finish(ts_fmt)};
        DROP TABLE u;
        """

    def _build_fast_select(self, f: tuple[str, ...], names: str, regex: str, ts_fmt: str,
                           slow: str) -> str:
        """Lines of the expected shape (the right number of double quotes, none escaped,
        a bracketed time stamp, a numeric status) are cut at their quotes; all other lines
        go through the regex. Intermediate results are materialised so that no expression
        is evaluated twice and the regex never runs on the fast rows."""
        quoted = sum(1 for x in ("request", "referrer", "user_agent") if x in f)
        shape = (
            f"len(s) = {2 * quoted + 1} AND strpos(line, '\\\"') = 0 "
            "AND strpos(s[1], '[') > 0 "
            "AND regexp_full_match(split_part(trim(s[3]), ' ', 1), '[0-9]{3}')"
        )
        return f"""
        CREATE OR REPLACE TEMP TABLE shaped AS
        SELECT line_no, line, s, {shape} AS fast_ok
        FROM (SELECT line_no, line, string_split(line, '"') AS s FROM batch_lines);
        CREATE OR REPLACE TEMP TABLE u AS
        SELECT line_no, line, {self._fields_from_quotes(f)} FROM shaped WHERE fast_ok
        UNION ALL
        SELECT line_no, line, {slow}
        FROM (SELECT line_no, line, regexp_extract(line, {regex}, {names}) AS g
              FROM shaped WHERE NOT fast_ok);
        DROP TABLE shaped;
        {self._finish(ts_fmt)};
        DROP TABLE u;
        """

    @staticmethod
    def _finish(ts_fmt: str) -> str:
        """From temp table `u` of raw strings to typed columns in temp table `parsed`."""
        return f"""
        CREATE OR REPLACE TEMP TABLE parsed AS
        WITH r AS (
            SELECT line_no, line, ip_raw, ua_raw, host_raw, url_raw, status_raw, bytes_raw,
                   ref_raw, try_strptime(ts_raw, {ts_fmt}) AS ts_parsed,
                   string_split(trim(req_raw), ' ') AS req
            FROM u
        ), m AS (
            SELECT *, len(req) >= 2 AND regexp_full_match(req[1], '[A-Za-z]+') AS has_req
            FROM r
        )
        SELECT
            line_no,
            CASE WHEN trim(line) = '' THEN 'blank'
                 WHEN ts_parsed IS NULL THEN 'malformed'
                 ELSE 'ok' END AS verdict,
            ts_parsed AS ts,
            nullif(trim(split_part(ip_raw, ',', 1)), '') AS ip,
            nullif(replace(ua_raw, '\\"', '"'), '-') AS user_agent,
            nullif(host_raw, '') AS host,
            CASE WHEN has_req THEN req[1] END AS method,
            coalesce(CASE WHEN has_req THEN replace(req[2], '\\"', '"') END, url_raw) AS url,
            try_cast(status_raw AS INTEGER) AS status,
            try_cast(bytes_raw AS BIGINT) AS bytes,
            nullif(nullif(replace(ref_raw, '\\"', '"'), '-'), '') AS referrer
        FROM m
        """

    @staticmethod
    def _fields_from_groups(f: tuple[str, ...]) -> str:
        def g(name: str) -> str:
            return f"g.{name}" if name in f else "NULL::VARCHAR"

        return (
            f"{g('ts')} AS ts_raw, {g('ip')} AS ip_raw, {g('user_agent')} AS ua_raw, "
            f"{g('host')} AS host_raw, {g('request')} AS req_raw, "
            f"nullif({g('url')}, '') AS url_raw, {g('status')} AS status_raw, "
            f"{g('bytes')} AS bytes_raw, {g('referrer')} AS ref_raw"
        )

    @staticmethod
    def _fields_from_quotes(f: tuple[str, ...]) -> str:
        """NCSA layout `[host] ip ident user [ts] "request" status bytes ["ref" "ua"]` cut
        at its double quotes (list `s`): s[1] prefix, s[2] request, s[3] ' status bytes ',
        s[4] referrer, s[6] user agent."""
        host_first = f[0] == "host"
        # Only the first address of an X-Forwarded-For chain is used: "a, b, c - - [".
        ip = f"rtrim(split_part(s[1], ' ', {2 if host_first else 1}), ',')"
        host = "split_part(s[1], ' ', 1)" if host_first else "NULL::VARCHAR"
        ts = "substr(s[1], strpos(s[1], '[') + 1, strpos(s[1], ']') - strpos(s[1], '[') - 1)"
        return (
            f"{ts} AS ts_raw, {ip} AS ip_raw, "
            f"{'s[6]' if 'user_agent' in f else 'NULL::VARCHAR'} AS ua_raw, {host} AS host_raw, "
            "s[2] AS req_raw, NULL::VARCHAR AS url_raw, "
            "split_part(trim(s[3]), ' ', 1) AS status_raw, "
            "split_part(trim(s[3]), ' ', 2) AS bytes_raw, "
            f"{'s[4]' if 'referrer' in f else 'NULL::VARCHAR'} AS ref_raw"
        )

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
            engine.execute(self._select)
        finally:
            engine.unregister("batch_lines")
        rejected = engine.execute(
            "SELECT line_no, verdict FROM parsed WHERE verdict <> 'ok'"
        ).fetchall()
        malformed = [n for n, v in rejected if v == "malformed"]
        blank = [n for n, v in rejected if v == "blank" and n not in too_long]
        malformed = sorted(set(malformed) | too_long)
        cols = ", ".join(
            c if c in {"line_no", "ts", "ip", "user_agent", "host", "method", "url", "status",
                       "bytes", "referrer"} else f"NULL AS {c}"
            for c in HIT_SCHEMA.names
        )
        hits = engine.sql(f"SELECT {cols} FROM parsed WHERE verdict = 'ok'").to_arrow_table()
        engine.execute("DROP TABLE parsed")
        skipped = {"blank": len(blank)} if blank else {}
        return ParsedBatch(hits=hits.cast(HIT_SCHEMA), malformed=malformed, skipped=skipped)
