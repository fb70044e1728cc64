"""The console's health document is served from a cache refreshed in the background."""

from __future__ import annotations

import threading
from typing import Any

from streamhub.core.clock import ManualClock
from streamhub.web.console import HealthCache


def test_stale_documents_are_served_while_a_fresh_one_is_gathered() -> None:
    clock = ManualClock(0.0)
    built: list[int] = []
    rebuilt = threading.Event()

    def build() -> dict[str, Any]:
        built.append(1)
        if len(built) > 1:
            rebuilt.set()
        return {"n": len(built)}

    cache = HealthCache(build, clock=clock)
    assert cache.get() == {"n": 1}
    clock.set(4.9)
    assert cache.get() == {"n": 1} and len(built) == 1  # still fresh: nothing gathered
    clock.set(5.0)
    assert cache.get() == {"n": 1}  # stale is served at once ...
    assert rebuilt.wait(5)  # ... while the refresh runs
    for _ in range(100):  # the refresh thread stores right after building
        if cache.get() == {"n": 2}:
            break
        threading.Event().wait(0.01)
    assert cache.get() == {"n": 2}


def test_a_failed_refresh_keeps_the_last_document() -> None:
    clock = ManualClock(0.0)
    calls: list[int] = []
    failed = threading.Event()

    def build() -> dict[str, Any]:
        calls.append(1)
        if len(calls) > 1:
            failed.set()
            raise RuntimeError("kafka gone")
        return {"ok": True}

    cache = HealthCache(build, clock=clock)
    cache.get()
    clock.set(10.0)
    assert cache.get() == {"ok": True}
    assert failed.wait(5)
    assert cache.get() == {"ok": True}
