"""Identity of an input file for resumable imports."""

from __future__ import annotations

import hashlib
from pathlib import Path

from amtspuls.collect.logs.reader import open_log
from amtspuls.model import Site

FINGERPRINT_LINES = 4


def fingerprint(path: Path, site: Site) -> str:
    """Identity of a file's content: its first lines (decompressed), so that a growing
    file keeps its identity and a rotated one gets a new one."""
    digest = hashlib.sha256(f"site:{site.id}\n".encode())
    with open_log(path) as fh:
        for _ in range(FINGERPRINT_LINES):
            line = fh.readline(1 << 16)
            if not line:
                break
            digest.update(line)
    return digest.hexdigest()[:32]
