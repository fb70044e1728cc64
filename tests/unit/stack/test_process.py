"""Readiness waits and stops poll on the injected clock: a manual one times them out at once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from streamhub.core.clock import ManualClock
from streamhub.stack.errors import StackError
from streamhub.stack.process import alive, terminate, wait_until


def test_a_service_that_never_gets_ready_times_out_on_the_clock() -> None:
    clock = ManualClock()
    with pytest.raises(StackError, match="Kafka broker not ready after 5s"):
        wait_until(lambda: False, "Kafka broker", 5, None, clock=clock)
    assert clock.monotonic() >= 5.0
    assert set(clock.sleeps) == {0.25} and len(clock.sleeps) == 20


def test_a_service_that_gets_ready_stops_the_wait() -> None:
    clock, answers = ManualClock(), iter([False, False, True])
    wait_until(lambda: next(answers), "MariaDB", 60, None, clock=clock)
    assert clock.sleeps == [0.25, 0.25]


def test_a_service_that_died_fails_the_wait_early() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    clock = ManualClock()
    with pytest.raises(StackError, match="PostgreSQL exited during start-up"):
        wait_until(lambda: False, "PostgreSQL", 30, None, child.pid, clock=clock)
    assert clock.sleeps == []


def test_a_service_ignoring_sigterm_is_killed_after_the_grace_time() -> None:
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        clock = ManualClock()
        terminate(child.pid, "stubborn", grace_s=1.0, clock=clock)
        assert child.wait(timeout=10) == -9  # SIGKILL, after the grace time on the clock
        assert clock.monotonic() >= 1.0 and set(clock.sleeps) == {0.2}
        assert not alive(child.pid)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
