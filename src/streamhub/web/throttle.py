"""Failed sign-ins slow a password guesser down: too many for one user name lock it a while."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW_S = 15 * 60.0
LOCK_S = 5 * 60.0


class SignInThrottle:
    """After ``max_failures`` failed sign-ins of one user name within ``window_s``, that name
    is refused for ``lock_s`` whatever the password (per name, so guessing from many
    addresses does not help; the cost is that a guesser can lock a real user out for a
    while, which the audit trail shows)."""

    def __init__(self, clock: Callable[[], float] = time.time, max_failures: int = MAX_FAILURES,
                 window_s: float = WINDOW_S, lock_s: float = LOCK_S) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window_s = window_s
        self.lock_s = lock_s
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}

    def locked_for(self, name: str) -> float:
        """Seconds until ``name`` may try again (0: it may now)."""
        with self._lock:
            return max(self._locked_until.get(name, 0.0) - self.clock(), 0.0)

    def failed(self, name: str) -> None:
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if now - t < self.window_s]
            recent.append(now)
            if len(recent) >= self.max_failures:
                self._locked_until[name] = now + self.lock_s
                recent = []
            self._failures[name] = recent

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)
