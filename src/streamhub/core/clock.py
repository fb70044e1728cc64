"""One clock for every stage: wall time, monotonic time and sleeping behind one protocol.

Time-dependent code takes a :class:`Clock` instead of calling :mod:`time`, so that tests
drive it with a :class:`ManualClock` (no sleeping, no flaky margins) and production passes
:data:`SYSTEM_CLOCK`.
"""

from __future__ import annotations

import time as _time
from typing import Protocol

# 2026-01-01T00:00:00Z: a manual clock's default start, a plausible wall time for records
DEFAULT_MANUAL_START_S = 1_767_225_600.0


class Clock(Protocol):
    def time(self) -> float:
        """Wall time: seconds since the epoch (UTC), like :func:`time.time`."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes back, for deadlines and durations."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (a manual clock advances instead)."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            _time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class ManualClock:
    """A clock that moves only when told to: :meth:`advance`, :meth:`set` or :meth:`sleep`.

    Wall and monotonic time move together; ``sleeps`` records every sleep asked for, so a
    test can assert a backoff without waiting for it.
    """

    def __init__(self, start_s: float = DEFAULT_MANUAL_START_S) -> None:
        self._wall = float(start_s)
        self._mono = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock does not go back (asked to advance {seconds} s)")
        self._wall += seconds
        self._mono += seconds

    def set(self, wall_s: float) -> None:
        """Jump the wall clock to ``wall_s`` (forward only); monotonic time follows."""
        self.advance(wall_s - self._wall)


def now_ms(clock: Clock) -> int:
    """The clock's wall time in whole milliseconds since the epoch."""
    return int(clock.time() * 1000)
