"""Log formats: each parses a batch of numbered lines into hits (see `model.HIT_SCHEMA`).

Line-regex formats are declared in `data/log_formats.toml` and parsed vectorised in the
engine; structured formats (JSON, W3C with `#Fields` headers, …) are small classes here.
`registry()` lists all of them; `detect()` picks the one that parses a sample best.
"""

from amtspuls.collect.logs.formats.base import LogFormat, ParsedBatch
from amtspuls.collect.logs.formats.registry import detect, get_format, registry

__all__ = ["LogFormat", "ParsedBatch", "detect", "get_format", "registry"]
