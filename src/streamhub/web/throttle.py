"""Sign-in limits, checked before the password hash runs (each attempt costs a PBKDF2 hash).

- Per client address: ``client_max`` attempts per ``client_window_s`` (any user name, known
  or not), so rotating names or one password tried against every user is limited.
- Globally: ``global_max`` attempts per ``global_window_s``, so many addresses together
  cannot keep the hash busy either.
- Per (user, client address): ``max_failures`` failures within ``window_s`` lock that pair
  for ``lock_s``: a guesser is stopped, but only from where it guesses.
- Per user, from anywhere: after ``user_soft_max`` failures within ``window_s``, each further
  attempt waits a backoff that doubles up to ``backoff_max_s`` after the last failure. A
  guesser spread over many addresses gets about one try a minute per user; the real user is
  delayed at most ``backoff_max_s``, never locked out for long from elsewhere.

Memory is bounded: expired entries are pruned on every call and each map keeps at most
``max_keys`` keys (the oldest dropped first). The clock is injected.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Hashable

from streamhub.core.clock import SYSTEM_CLOCK, Clock

MAX_FAILURES = 5
WINDOW_S = 15 * 60.0
LOCK_S = 5 * 60.0
CLIENT_MAX, CLIENT_WINDOW_S = 30, 5 * 60.0
GLOBAL_MAX, GLOBAL_WINDOW_S = 120, 60.0
USER_SOFT_MAX = 10
BACKOFF_MAX_S = 60.0
MAX_KEYS = 10_000


class _Windows:
    """key → times of recent events, pruned to ``window_s``, at most ``max_keys`` keys."""

    def __init__(self, window_s: float, max_keys: int) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self._events: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def count(self, key: Hashable, now: float) -> int:
        events = self._events.get(key)
        if events is None:
            return 0
        while events and now - events[0] >= self.window_s:
            events.popleft()
        if not events:
            del self._events[key]
            return 0
        return len(events)

    def oldest(self, key: Hashable) -> float:
        return self._events[key][0]

    def newest(self, key: Hashable) -> float:
        return self._events[key][-1]

    def add(self, key: Hashable, now: float) -> None:
        self._events.setdefault(key, deque()).append(now)
        self._events.move_to_end(key)
        while len(self._events) > self.max_keys:
            self._events.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        self._events.pop(key, None)

    def prune(self, now: float) -> None:
        for key in list(self._events):
            self.count(key, now)

    def __len__(self) -> int:
        return len(self._events)


class SignInThrottle:
    """``admit`` before hashing (seconds to wait, 0: go on), then ``failed``/``succeeded``."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK, max_failures: int = MAX_FAILURES,
                 window_s: float = WINDOW_S, lock_s: float = LOCK_S,
                 client_max: int = CLIENT_MAX, client_window_s: float = CLIENT_WINDOW_S,
                 global_max: int = GLOBAL_MAX, global_window_s: float = GLOBAL_WINDOW_S,
                 user_soft_max: int = USER_SOFT_MAX, backoff_max_s: float = BACKOFF_MAX_S,
                 max_keys: int = MAX_KEYS) -> None:  # fmt: skip
        self.clock = clock
        self.max_failures = max_failures
        self.lock_s = lock_s
        self.client_max = client_max
        self.global_max = global_max
        self.user_soft_max = user_soft_max
        self.backoff_max_s = backoff_max_s
        self._lock = threading.Lock()
        self._clients = _Windows(client_window_s, max_keys)
        self._global = _Windows(global_window_s, 1)
        self._pair_failures = _Windows(window_s, max_keys)
        self._user_failures = _Windows(window_s, max_keys)
        self._locked_until: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._max_keys = max_keys
        self._last_prune = float("-inf")

    def admit(self, name: str, client: str) -> float:
        """Seconds until ``name`` may be tried from ``client`` (0: counted, go on and hash)."""
        now = self.clock.monotonic()
        with self._lock:
            self._prune(now)
            wait = max(
                self._locked_until.get((name, client), 0.0) - now,
                self._full(self._clients, client, self.client_max, now),
                self._full(self._global, "all", self.global_max, now),
                self._backoff(name, now),
                0.0,
            )
            if wait == 0.0:
                self._clients.add(client, now)
                self._global.add("all", now)
            return wait

    def locked_for(self, name: str, client: str = "") -> float:
        """Seconds the (``name``, ``client``) pair stays locked by its own failures."""
        with self._lock:
            return max(self._locked_until.get((name, client), 0.0) - self.clock.monotonic(), 0.0)

    def failed(self, name: str, client: str = "") -> None:
        now = self.clock.monotonic()
        with self._lock:
            self._user_failures.add(name, now)
            self._pair_failures.add((name, client), now)
            if self._pair_failures.count((name, client), now) >= self.max_failures:
                self._locked_until[(name, client)] = now + self.lock_s
                self._locked_until.move_to_end((name, client))
                while len(self._locked_until) > self._max_keys:
                    self._locked_until.popitem(last=False)
                self._pair_failures.forget((name, client))

    def succeeded(self, name: str, client: str = "") -> None:
        with self._lock:
            self._pair_failures.forget((name, client))
            self._user_failures.forget(name)

    def size(self) -> int:
        """Keys held (for tests of the memory bound)."""
        with self._lock:
            return (len(self._clients) + len(self._pair_failures) + len(self._user_failures)
                    + len(self._locked_until))  # fmt: skip

    @staticmethod
    def _full(windows: _Windows, key: Hashable, limit: int, now: float) -> float:
        if windows.count(key, now) < limit:
            return 0.0
        return windows.oldest(key) + windows.window_s - now

    def _backoff(self, name: str, now: float) -> float:
        failures = self._user_failures.count(name, now)
        if failures < self.user_soft_max:
            return 0.0
        delay = min(2.0 ** (failures - self.user_soft_max), self.backoff_max_s)
        return max(self._user_failures.newest(name) + delay - now, 0.0)

    def _prune(self, now: float) -> None:
        if now - self._last_prune < 10.0:  # a full sweep at most every 10 s
            return
        self._last_prune = now
        for windows in (self._clients, self._pair_failures, self._user_failures):
            windows.prune(now)
        for pair in [p for p, until in self._locked_until.items() if until <= now]:
            del self._locked_until[pair]
