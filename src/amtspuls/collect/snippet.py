"""The tracker and the `<script>` tag a site embeds to load it."""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from html import escape
from importlib.resources import files

from amtspuls.errors import UserError

TRACKER_PATH = "/js/amtspuls.js"


@lru_cache(maxsize=1)
def tracker_source() -> str:
    return files("amtspuls.collect").joinpath("static/amtspuls.js").read_text("utf-8")


@lru_cache(maxsize=1)
def tracker_bytes() -> tuple[bytes, bytes]:
    """The tracker as served (comments and indentation left out; the code unchanged)
    and its gzip form."""
    text = re.sub(r"\A/\*.*?\*/\n", "", tracker_source(), flags=re.S)
    lines = [ln.strip() for ln in text.splitlines()]
    body = ("\n".join(ln for ln in lines if ln and not ln.startswith("//")) + "\n").encode()
    return body, gzip.compress(body, 9, mtime=0)


def snippet(domain: str, base_url: str, respect_dnt: bool = False,
            search_param: str | None = None) -> str:
    """`<script defer src="BASE/js/amtspuls.js" data-site="DOMAIN"></script>`."""
    base = base_url.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#\"'<>]+(/[^\s?#\"'<>]*)?", base):
        raise UserError(f"--url must be the server's address like https://statistik.example.de, "
                        f"got {base_url!r}")
    attrs = [f'src="{escape(base + TRACKER_PATH)}"', f'data-site="{escape(domain)}"']
    if respect_dnt:
        attrs.append("data-respect-dnt")
    if search_param:
        attrs.append(f'data-search-param="{escape(search_param)}"')
    return f"<script defer {' '.join(attrs)}></script>"
