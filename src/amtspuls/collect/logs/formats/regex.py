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
import pyarrow.compute as pc

from amtspuls.collect.logs.formats.base import LogFormat, ParsedBatch, non_blank
from amtspuls.collect.logs.formats.fields import client_ip_sql
from amtspuls.collect.logs.reader import LineBatch
from amtspuls.model import HIT_SCHEMA

# Hit columns a log line fills (the others are tracker-only: NULL).
_PARSED_COLUMNS = {"line_no", "ts", "ip", "user_agent", "host", "method", "url", "status",
                   "bytes", "referrer"}
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


# trim(line) = '', without trimming (copying) every line: a line that starts with a
# printable ASCII character other than a space cannot trim to nothing.
_BLANK = "(CASE WHEN ascii(line) BETWEEN 33 AND 126 THEN false ELSE trim(line) = '' END)"


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

    def _build_select(self) -> tuple[str, str | None]:
        """A SELECT of the hit columns (`HIT_SCHEMA`, plus `blank` and `fast_ok`) per line,
        and, for fast formats, the SELECT that reads the lines that are not `fast_ok`
        (table `slow_lines`) with the regex instead. Cutting and typing run in one
        statement whose result goes straight to Arrow: the raw strings are never
        materialised."""
        f = self.spec.fields
        names = "[" + ", ".join(_sql_str(n) for n in f) + "]"
        regex = _sql_str(self.spec.regex)
        cols = ", ".join(c if c in _PARSED_COLUMNS else f"NULL AS {c}" for c in HIT_SCHEMA.names)
        typed = (f"SELECT {cols}, blank, fast_ok FROM ("
                 f"{self._typed(_sql_str(self.spec.ts_format))})")
        by_regex = f"""
            SELECT line_no, {_BLANK} AS blank, true AS fast_ok, {self._fields_from_groups(f)}
            FROM (SELECT line_no, line, regexp_extract(line, {regex}, {names}) AS g
                  FROM batch_lines WHERE_CLAUSE)
        """
        if self.spec.fast != "ncsa":
            return typed.replace("__RAW__", by_regex.replace("WHERE_CLAUSE", "")), None
        # Lines of the expected shape (the right number of double quotes, none escaped, a
        # bracketed time stamp, a numeric status) are cut at their quotes; the rest go
        # through the regex, which then runs only on them.
        quoted = sum(1 for x in ("request", "referrer", "user_agent") if x in f)
        # The part before the request's quote must still match the format's own regex
        # (a DFA test on a short string, no captures), and the part after it the status.
        shape = (
            f"len(s) = {2 * quoted + 1} AND strpos(line, '\\\"') = 0 "
            f"AND regexp_full_match(s[1], {_sql_str(self._prefix_regex())}) "
            "AND regexp_full_match(trim(s[3]), '[0-9]{3} ([0-9]+|-)')"
        )
        by_quotes = f"""
            SELECT line_no, {_BLANK} AS blank, coalesce({shape}, false) AS fast_ok,
                   {self._fields_from_quotes(f)}
            FROM (SELECT line_no, line, string_split(line, '"') AS s FROM batch_lines)
        """
        fast = typed.replace("__RAW__", by_quotes)
        slow = typed.replace("__RAW__", by_regex.replace(
            "WHERE_CLAUSE", "WHERE line_no IN (SELECT line_no FROM slow_lines)"))
        return fast, slow

    def _prefix_regex(self) -> str:
        """The format's regex up to the opening quote of the request (NCSA layouts)."""
        cut = self.spec.regex.find(' "(')
        if cut < 0:
            raise ValueError(f"log format {self.name}: fast = 'ncsa' needs a quoted request")
        return self.spec.regex[:cut] + " "

    @staticmethod
    def _typed(ts_fmt: str) -> str:
        """A SELECT of typed columns over raw strings (a subquery replaces `__RAW__`); ts
        NULL: the line is blank or malformed."""
        # The request line is cut once (`rq`); an index past its end is NULL.
        method = "rq[1]"
        target = "coalesce(rq[2], '')"
        has_req = f"({target} <> '' AND regexp_full_match({method}, '[A-Za-z]+'))"
        return f"""
        SELECT
            line_no, blank, fast_ok,
            try_strptime(ts_raw, {ts_fmt}) AS ts,
            {client_ip_sql('ip_raw')} AS ip,
            -- '' is an absent field (a common-form line); '-' a client that sent none
            nullif(replace(ua_raw, '\\"', '"'), '') AS user_agent,
            nullif(host_raw, '') AS host,
            CASE WHEN {has_req} THEN {method} END AS method,
            coalesce(CASE WHEN {has_req} THEN replace({target}, '\\"', '"') END, url_raw) AS url,
            try_cast(status_raw AS INTEGER) AS status,
            try_cast(bytes_raw AS BIGINT) AS bytes,
            nullif(nullif(replace(ref_raw, '\\"', '"'), '-'), '') AS referrer
        FROM (SELECT *, string_split(trim(req_raw), ' ') AS rq FROM (__RAW__))
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
        s[4] referrer, s[6] user agent. The address may be an X-Forwarded-For chain
        ("a, b, c - - [..."): everything before ident and user is kept for the client rule."""
        host_first = f[0] == "host"
        before_ts = "trim(split_part(s[1], '[', 1))"
        words = f"string_split({before_ts}, ' ')"
        first = 2 if host_first else 1
        ip = (f"CASE WHEN strpos({before_ts}, ',') = 0 THEN split_part(s[1], ' ', {first}) "
              f"ELSE array_to_string(list_slice({words}, {first}, -3), ' ') END")
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
        n = len(batch)
        table = pa.table(
            {
                "line_no": pa.array(range(batch.first_line_no, batch.first_line_no + n),
                                    pa.int64()),
                "line": batch.array,
            }
        )
        fast, slow = self._select
        engine.register("batch_lines", table)
        try:
            parsed = engine.sql(fast).to_arrow_table()
            if slow:
                fast_ok = parsed["fast_ok"]
                if not pc.all(fast_ok).as_py():
                    engine.register("slow_lines", parsed.filter(pc.invert(fast_ok))
                                    .select(["line_no"]))
                    try:
                        again = engine.sql(slow).to_arrow_table()
                    finally:
                        engine.unregister("slow_lines")
                    parsed = pa.concat_tables([parsed.filter(fast_ok), again])
        finally:
            engine.unregister("batch_lines")
        too_long = set(batch.too_long)
        valid = pc.is_valid(parsed["ts"])
        rejected = parsed.filter(pc.invert(valid)).select(["line_no", "blank"]).to_pydict()
        malformed = sorted({n for n, blank in zip(rejected["line_no"], rejected["blank"],
                                                  strict=True) if not blank} | too_long)
        blank = sum(1 for n, is_blank in zip(rejected["line_no"], rejected["blank"],
                                             strict=True) if is_blank and n not in too_long)
        hits = parsed.filter(valid).drop_columns(["blank", "fast_ok"])
        skipped = {"blank": blank} if blank else {}
        return ParsedBatch(hits=hits.cast(HIT_SCHEMA), malformed=malformed, skipped=skipped)
