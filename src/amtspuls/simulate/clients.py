"""Clients: one IP address and user agent per visitor (and per bot instance)."""

from __future__ import annotations

import numpy as np

HTTP2, HTTP11 = 0, 1
PROTOCOLS = ("HTTP/2.0", "HTTP/1.1")


class Clients:
    def __init__(self) -> None:
        self.ips: list[str] = []
        self._ua = np.zeros(1024, dtype=np.int32)
        self._proto = np.zeros(1024, dtype=np.int8)
        self._tracked = np.zeros(1024, dtype=bool)
        self._bot = np.zeros(1024, dtype=bool)

    def __len__(self) -> int:
        return len(self.ips)

    def add(
        self, ips: list[str], ua: np.ndarray, proto: np.ndarray, tracked: np.ndarray, bot: bool
    ) -> int:
        base = len(self.ips)
        n = len(ips)
        need = base + n
        if need > len(self._ua):
            size = max(need, 2 * len(self._ua))
            for name in ("_ua", "_proto", "_tracked", "_bot"):
                old = getattr(self, name)
                new = np.zeros(size, dtype=old.dtype)
                new[: len(old)] = old
                setattr(self, name, new)
        self.ips.extend(ips)
        self._ua[base:need] = ua
        self._proto[base:need] = proto
        self._tracked[base:need] = tracked
        self._bot[base:need] = bot
        return base

    @property
    def ua(self) -> np.ndarray:
        return self._ua[: len(self.ips)]

    @property
    def proto(self) -> np.ndarray:
        return self._proto[: len(self.ips)]

    @property
    def tracked(self) -> np.ndarray:
        return self._tracked[: len(self.ips)]

    @property
    def bot(self) -> np.ndarray:
        return self._bot[: len(self.ips)]
