"""Sessions expire after the idle time; time is injected."""

from __future__ import annotations

from streamhub.core.clock import ManualClock
from streamhub.web.auth import SessionStore
from streamhub.web.throttle import SignInThrottle


def test_a_session_expires_after_idle_time() -> None:
    clock = ManualClock()
    store = SessionStore(idle_s=60, clock=clock)
    session = store.open("wang", "official")
    clock.advance(59)
    assert store.touch(session.token) is session
    clock.advance(59)  # idle 59 s again since the touch
    assert store.touch(session.token) is session
    clock.advance(60)
    assert store.touch(session.token) is None
    assert store.touch(session.token) is None  # and stays gone


def test_peek_does_not_count_as_activity() -> None:
    clock = ManualClock()
    store = SessionStore(idle_s=60, clock=clock)
    session = store.open("li", "operator")
    clock.advance(30)
    assert store.peek(session.token) is session
    clock.advance(30)
    assert store.peek(session.token) is None


def test_tokens_are_random_and_close_ends_a_session() -> None:
    store = SessionStore(idle_s=60, clock=ManualClock())
    first, second = store.open("a", "official"), store.open("a", "official")
    assert first.token != second.token and len(first.token) >= 40
    store.close(first.token)
    assert store.touch(first.token) is None
    assert store.touch(second.token) is second
    assert store.touch(None) is None and store.touch("forged") is None


def test_expires_at_follows_activity() -> None:
    clock = ManualClock(100.0)
    store = SessionStore(idle_s=1800, clock=clock)
    session = store.open("a", "developer")
    assert store.expires_at(session) == 1900.0
    clock.advance(10)
    store.touch(session.token)
    assert store.expires_at(session) == 1910.0
    assert session.pages == ("catalog",)


def test_throttle_locks_after_failures_in_the_window() -> None:
    clock = ManualClock(1000.0)
    throttle = SignInThrottle(clock, max_failures=3, window_s=60, lock_s=30)
    throttle.failed("a")
    clock.advance(61)  # the first failure left the window
    throttle.failed("a")
    throttle.failed("a")
    assert throttle.locked_for("a") == 0
    throttle.failed("a")
    assert throttle.locked_for("a") == 30 and throttle.locked_for("b") == 0
    clock.advance(30)
    assert throttle.locked_for("a") == 0
