"""Figures computed once per few seconds, whoever asks: every official sees the same region.

Without it each open dashboard would run the FINAL views on every poll (~0.9 s per refresh at
300k encounters here), so load would grow with the number of viewers rather than the data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from streamhub.core.clock import Clock


class TtlCache:
    """``key → value`` kept ``ttl_s`` seconds; one computation per key at a time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._computing: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, ttl_s: float, compute: Callable[[], Any]) -> Any:
        with self._lock:
            hit = self._fresh(key, ttl_s)
            if hit is not None:
                return hit[1]
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:  # polls arriving together wait for one computation, not start their own
            with self._lock:
                hit = self._fresh(key, ttl_s)
            if hit is not None:
                return hit[1]
            value = compute()  # an error is not cached: the next request tries again
            with self._lock:
                self._entries[key] = (self._clock.monotonic(), value)
            return value

    def _fresh(self, key: Hashable, ttl_s: float) -> tuple[float, Any] | None:
        entry = self._entries.get(key)
        return entry if entry is not None and self._clock.monotonic() - entry[0] < ttl_s else None
