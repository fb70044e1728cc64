"""The manual clock moves only when told to; the system clock moves by itself."""

from __future__ import annotations

import pytest

from streamhub.core.clock import SYSTEM_CLOCK, ManualClock, now_ms


def test_manual_clock_moves_wall_and_monotonic_together_and_records_sleeps() -> None:
    clock = ManualClock(start_s=100.0)
    clock.sleep(1.5)
    clock.advance(0.5)
    assert clock.time() == 102.0
    assert clock.monotonic() == 2.0
    assert clock.sleeps == [1.5]
    assert now_ms(clock) == 102_000


def test_manual_clock_refuses_to_go_back() -> None:
    clock = ManualClock(start_s=100.0)
    with pytest.raises(ValueError, match="does not go back"):
        clock.set(99.0)


def test_system_clock_moves() -> None:
    before = SYSTEM_CLOCK.monotonic()
    SYSTEM_CLOCK.sleep(0.01)
    assert SYSTEM_CLOCK.monotonic() > before
