"""The capture agent restarts a failed connector with backoff, waiting on its stop event."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from streamhub.capture import agent as agent_module
from streamhub.capture.agent import CaptureAgent
from streamhub.config import Settings
from streamhub.core.clock import ManualClock

from .task_fakes import connector


class CountedStop(threading.Event):
    """A stop event whose waits are recorded and return at once; set after ``waits`` waits."""

    def __init__(self, waits: int) -> None:
        super().__init__()
        self.left = waits
        self.waited: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waited.append(timeout)
        self.left -= 1
        if self.left == 0:
            self.set()
        return self.is_set()


def supervise(monkeypatch: pytest.MonkeyPatch, runs_s: list[float]) -> CountedStop:
    """Run the agent's supervision of one connector whose task fails after each run time."""
    clock = ManualClock()
    durations = iter(runs_s)

    class FailingTask:
        def __init__(self, *_args: Any, clock: ManualClock, **_kwargs: Any) -> None:
            self.clock = clock

        def run(self) -> None:
            self.clock.advance(next(durations))
            raise RuntimeError("source unreachable")

    monkeypatch.setattr(agent_module, "ConnectorTask", FailingTask)
    stop = CountedStop(len(runs_s))
    CaptureAgent(Settings(), [], coordinated=False, clock=clock)._supervise(connector(), stop)
    return stop


def test_restarts_back_off_doubling_up_to_thirty_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    stop = supervise(monkeypatch, [1.0] * 7)
    assert stop.waited == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_a_failure_after_a_stable_run_starts_the_backoff_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop = supervise(monkeypatch, [1.0, 1.0, 121.0, 1.0])
    assert stop.waited == [2.0, 4.0, 1.0, 2.0]
