"""The positions topic on the local broker: writes sent without waiting, acknowledged in order."""

from __future__ import annotations

import time
from typing import Any

from streamhub.capture.positions import PositionStore
from streamhub.config import Settings


def test_positions_sent_without_waiting_are_saved_in_order_then_read_back(
    capture_settings: Settings,
) -> None:
    store = PositionStore(capture_settings)
    saved: list[dict[str, Any]] = []
    for n in range(1, 4):
        store.send("c1", {"resume": f"0/{n}"}, saved.append)
    assert saved == []  # nothing is waited for, and callbacks run only from poll/flush
    deadline = time.monotonic() + 30
    while len(saved) < 3 and time.monotonic() < deadline:
        store.poll()
        time.sleep(0.01)
    assert [s["resume"] for s in saved] == ["0/1", "0/2", "0/3"]
    store.save("c2", {"resume": "0/9"})
    loaded = store.load("c1")
    assert loaded is not None and loaded["resume"] == "0/3" and loaded["saved_ms"] > 0
    assert (store.load("c2") or {}).get("resume") == "0/9"
