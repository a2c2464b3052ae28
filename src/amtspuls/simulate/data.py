"""Word lists and tables of the simulator (src/amtspuls/data/sim/*.toml)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def load(name: str) -> dict[str, Any]:
    with resources.files("amtspuls.data").joinpath("sim", name).open("rb") as fh:
        return tomllib.load(fh)
