"""Sign-in limits per client address, globally, per user and per (user, address); absolute
session lifetime; the hash slots. Time is injected."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamhub.core.clock import ManualClock
from streamhub.web.audit import USER_AGENT_MAX, AuditTrail, user_agent
from streamhub.web.auth import SessionStore, User, UserStore, hash_password, write_users
from streamhub.web.errors import AuditWriteError, SignInBusyError
from streamhub.web.throttle import SignInThrottle


def test_rotating_user_names_from_one_address_is_limited() -> None:
    clock = ManualClock()
    throttle = SignInThrottle(clock, client_max=10, client_window_s=60)
    for n in range(10):
        assert throttle.admit(f"name-{n}", "10.0.0.9") == 0
        throttle.failed(f"name-{n}", "10.0.0.9")
    assert throttle.admit("name-10", "10.0.0.9") == pytest.approx(60)  # before any hash
    assert throttle.admit("name-10", "10.0.0.8") == 0  # another address is not affected
    clock.advance(60)
    assert throttle.admit("name-11", "10.0.0.9") == 0


def test_one_password_against_every_user_from_many_addresses_meets_the_global_limit() -> None:
    clock = ManualClock()
    throttle = SignInThrottle(clock, global_max=20, global_window_s=60)
    for n in range(20):
        assert throttle.admit(f"user-{n}", f"10.0.{n}.1") == 0
    assert throttle.admit("user-20", "10.0.20.1") > 0
    clock.advance(60)
    assert throttle.admit("user-20", "10.0.20.1") == 0


def test_a_guesser_locks_only_its_own_address_out() -> None:
    clock = ManualClock()
    throttle = SignInThrottle(clock, max_failures=5, lock_s=300)
    for _ in range(5):
        assert throttle.admit("wang", "attacker") == 0
        throttle.failed("wang", "attacker")
    assert throttle.admit("wang", "attacker") == pytest.approx(300)
    assert throttle.admit("wang", "office") == 0  # the real user signs in from elsewhere


def test_failures_from_many_addresses_slow_the_user_down_without_locking_it_out() -> None:
    clock = ManualClock()
    throttle = SignInThrottle(clock, user_soft_max=10, backoff_max_s=60)
    for n in range(12):
        throttle.admit("wang", f"10.1.{n}.1")
        throttle.failed("wang", f"10.1.{n}.1")
    # 12 failures: 2**2 s after the last one, from any address
    assert throttle.admit("wang", "office") == pytest.approx(4)
    for n in range(12, 30):
        throttle.failed("wang", f"10.1.{n}.1")
    assert throttle.admit("wang", "office") == pytest.approx(60)  # capped, never a lock-out
    clock.advance(60)
    assert throttle.admit("wang", "office") == 0
    throttle.succeeded("wang", "office")
    assert throttle.admit("wang", "elsewhere") == 0


def test_memory_stays_bounded_and_is_pruned() -> None:
    clock = ManualClock()
    throttle = SignInThrottle(clock, max_keys=100, client_max=10**6, global_max=10**6)
    for n in range(5_000):
        throttle.admit(f"u{n}", f"c{n}")
        throttle.failed(f"u{n}", f"c{n}")
    assert throttle.size() <= 400
    clock.advance(3600)
    throttle.admit("x", "y")
    assert throttle.size() <= 1


def test_a_polled_session_ends_at_its_absolute_lifetime() -> None:
    clock = ManualClock()
    store = SessionStore(idle_s=1800, clock=clock, max_s=12 * 3600)
    session = store.open("wang", "official")
    for _ in range(12 * 60 - 1):  # a tab polling every minute
        clock.advance(60)
        assert store.touch(session.token) is session
    assert store.expires_at(session) == session.opened + 12 * 3600
    clock.advance(60)
    assert store.touch(session.token) is None


def test_hashes_run_a_bounded_number_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    write_users(path, {"wang": User("wang", "official", hash_password("pw-123456", 1_000))})
    store = UserStore(path, hash_slots=1, hash_wait_s=0.05)
    with store._hashing:  # one sign-in is hashing: the next waits, then is refused
        with pytest.raises(SignInBusyError):
            store.authenticate("wang", "pw-123456")
        with pytest.raises(SignInBusyError):
            store.authenticate("nobody", "pw-123456")  # an unknown name hashes a decoy too
    assert store.authenticate("wang", "pw-123456") is not None


def test_the_user_agent_is_cut_and_cleaned() -> None:
    agent = "Mozilla\x1b[31m\n" + "x" * 500
    scope = {"headers": [(b"user-agent", agent.encode("latin-1"))]}
    cleaned = user_agent(scope)
    assert cleaned is not None and len(cleaned) == USER_AGENT_MAX
    assert cleaned.startswith("Mozilla?[31m?") and "\n" not in cleaned


def test_an_unwritable_audit_trail_raises(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit")
    (tmp_path / "audit").mkdir()  # a directory where the file should be
    with pytest.raises(AuditWriteError, match="cannot append to the audit trail"):
        trail.record({"path": "/x"})
