"""Settings: defaults, overridden by `DATA/amtspuls.toml`, overridden by AMTSPULS_* env vars.

Only settings that hold for the whole installation live here; per-site settings
(time zone, search parameters) live with the site in the store.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

DEFAULT_DATA_DIR = "./amtspuls-data"


@dataclass
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR))
    # Raw events older than this are deleted; daily aggregates are kept.
    retention_months: int = 13
    # Raw texts and contact data of service requests are deleted after this many days
    # (the scrubbed text, category and location stay).
    request_raw_retention_days: int = 180
    # Daily visitor-hash salts are deleted after this many hours (Plausible's scheme).
    salt_keep_hours: int = 48
    # A session ends after this much inactivity.
    session_timeout_minutes: int = 30
    # Aggregates shown to people need at least k distinct visitors.
    k_anonymity: int = 5
    # Lines longer than this are malformed: no access-log line is legitimately this long.
    max_line_bytes: int = 65536
    # Lines handed to the processing engine at once (bounds memory of an import: the
    # raw lines of one batch and the parsed hits of two are in memory at a time).
    import_batch_lines: int = 100_000
    # A log import commits once at least this many events are stored (and at its end);
    # an interrupted import resumes from the last commit. More than a row group (122,880
    # rows) per transaction lets the store write them compressed, bypassing its log.
    import_commit_events: int = 130_000
    # The store's buffer memory during a log import (its own default: 80 % of RAM).
    import_store_memory: str = "300MB"
    # Engine threads of each of a log import's parallel stages (reading and parsing;
    # preparing; storing). On two cores one each is fastest: more only compete.
    import_stage_threads: int = 1
    # Memory the embedded engine may use; it never spills raw input to disk.
    engine_memory_limit: str = "2GB"
    engine_threads: int = 2
    default_timezone: str = "Europe/Berlin"
    # Live tracking: requests per second (and burst) per client address; 0: no limit.
    collect_rate_limit: int = 100
    collect_rate_burst: int = 400
    # Reverse proxies (comma-separated addresses or CIDR ranges) whose X-Forwarded-For
    # header names the client; empty: the connection's address is the client's.
    trusted_proxies: str = ""
    # Secret a server-side sender passes as Matomo's `token_auth` to set `cip` and `cdt`
    # (client address, time); empty: those parameters are always ignored.
    tracking_token: str = ""
    # Dashboard and API access (docs/dashboard.md). `/api/v1` needs a token or a login
    # unless api_auth is false; the tracking endpoints and Open311 are always public.
    api_auth: bool = True
    # Session cookie `Secure` flag: true, false, or auto (Secure except for plain HTTP to
    # a loopback host name such as 127.0.0.1 or localhost).
    cookie_secure: str = "auto"
    session_hours: int = 12
    session_idle_minutes: int = 120
    # Failed logins per user name and per client network within 15 minutes before a pause.
    login_max_failures: int = 5
    # The public transparency page (/transparenz): k-anonymous aggregates, no login.
    transparency_page: bool = False
    # Optional wording of recommendations by an OpenAI-compatible chat endpoint, e.g.
    # "http://127.0.0.1:11434/v1" (recommend/llm.py); empty: off, nothing is sent.
    llm_base_url: str = ""
    # Model name passed to that endpoint.
    llm_model: str = ""
    # Bearer token for the endpoint; better set as AMTSPULS_LLM_API_KEY than in the file.
    llm_api_key: str = ""
    # Seconds to wait for the endpoint before the deterministic text is used alone.
    llm_timeout_seconds: int = 20

    @property
    def db_path(self) -> Path:
        return self.data_dir / "amtspuls.duckdb"

    @property
    def salt_dir(self) -> Path:
        return self.data_dir / "salts"


def _coerce(kind: type | str, raw: str):
    kind_name = kind if isinstance(kind, str) else kind.__name__
    if kind_name == "int":
        return int(raw)
    if kind_name == "Path":
        return Path(raw)
    if kind_name == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return raw


def load_settings(data_dir: str | Path | None = None) -> Settings:
    """Build the settings for one data directory (argument > env > default)."""
    chosen = Path(data_dir or os.environ.get("AMTSPULS_DATA") or DEFAULT_DATA_DIR)
    settings = Settings(data_dir=chosen)
    toml_file = chosen / "amtspuls.toml"
    values: dict[str, object] = {}
    if toml_file.is_file():
        with toml_file.open("rb") as fh:
            values.update(tomllib.load(fh))
    for f in fields(Settings):
        env = os.environ.get(f"AMTSPULS_{f.name.upper()}")
        if env is not None and f.name != "data_dir":
            values[f.name] = env
    for f in fields(Settings):
        if f.name in values and f.name != "data_dir":
            setattr(settings, f.name, _coerce(f.type, str(values[f.name])))
    return settings


def read_section(settings: Settings, name: str) -> dict:
    """One table of DATA/amtspuls.toml (e.g. `[warning]`), empty when absent."""
    from amtspuls.errors import UserError

    path = Path(settings.data_dir) / "amtspuls.toml"
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise UserError(f"{path}: [{name}] must be a table")
    return table
