"""The reconcile app's waits: a registry outage in the agent is awaited (the event loop keeps
running), the start-up replay's waits go through the injected clock, and both give up the
way they did (the worker exits; the group commit names the group)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, NoReturn

import pytest
from prometheus_client import CollectorRegistry

from streamhub.core.clock import ManualClock
from streamhub.core.retry import RetryPolicy
from streamhub.core.topic_names import SOURCE_COUNTS
from streamhub.reconcile.app import GROUP_COMMIT_RETRY, RebuildError, Runtime, _commit_for_group
from streamhub.reconcile.errors import RegistryUnreachableError
from streamhub.reconcile.feed import Feed
from streamhub.reconcile.metrics import ReconcileMetrics
from streamhub.serde.errors import RegistryUnavailableError
from tests.unit.reconcile.helpers import INST, MINUTE, T0, clock_at, reconciler

SOURCE_VALUE = {
    "connector": "c1",
    "institution_id": INST,
    "system": "his",
    "database": "hisdb",
    "table": "public.patient",
    "window_start_ms": T0,
    "window_ms": MINUTE,
    "inserts": 3,
    "updates": 0,
    "deletes": 0,
    "snapshot_reads": 0,
    "row_count": None,
    "row_count_position": None,
    "emitted_ts_ms": T0 + MINUTE + 5_000,
}


class GaveUpError(Exception):
    pass


class FlakyFeed(Feed):
    """A feed whose registry is down for the first ``failures`` decodes."""

    def __init__(self, failures: int, events: list[str], clock: ManualClock) -> None:
        super().__init__(reconciler(clock), None, ReconcileMetrics.create(CollectorRegistry()))  # type: ignore[arg-type]
        self.failures = failures
        self.events = events

    def decode(
        self, topic: str, partition: int, offset: int, value: bytes | None
    ) -> dict[str, Any] | None:
        self.events.append("decode")
        if self.failures > 0:
            self.failures -= 1
            raise RegistryUnavailableError("registry down")
        return dict(SOURCE_VALUE)


def runtime(feed: FlakyFeed, clock: ManualClock, **kwargs: Any) -> Runtime:
    return Runtime(None, feed.reconciler, feed, None, feed.metrics, clock=clock, **kwargs)  # type: ignore[arg-type]


def give_up(error: Exception, cause: BaseException | None) -> NoReturn:
    raise GaveUpError(error) from cause


def no_blocking_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) would block the event loop")

    monkeypatch.setattr(time, "sleep", refuse)


def test_the_agent_awaits_a_registry_outage_and_the_loop_keeps_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_blocking_sleep(monkeypatch)
    events: list[str] = []
    clock = clock_at(T0)
    waits: list[float] = []

    async def pause(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)  # hand the loop to the other tasks, as a real wait does

    feed = FlakyFeed(2, events, clock)
    run = runtime(feed, clock, pause=pause, give_up=give_up)

    async def other_task() -> None:
        for _ in range(5):
            events.append("tick")
            await asyncio.sleep(0)

    async def both() -> None:
        await asyncio.gather(run.take_async(SOURCE_COUNTS, 0, 7, b"x"), other_task())

    asyncio.run(both())
    assert waits == [RetryPolicy().delay(1), RetryPolicy().delay(2)]
    first, last = events.index("decode"), len(events) - 1 - events[::-1].index("decode")
    assert events.count("decode") == 3
    assert "tick" in events[first:last]  # the loop ran other work between the attempts
    [window] = feed.reconciler.preview(T0 + 10 * MINUTE)
    assert window.source_changes == 3  # the input was folded in once decoded


def test_the_agent_gives_up_when_the_registry_stays_down(monkeypatch: pytest.MonkeyPatch) -> None:
    no_blocking_sleep(monkeypatch)
    clock = clock_at(T0)
    waits: list[float] = []

    async def pause(seconds: float) -> None:
        waits.append(seconds)

    feed = FlakyFeed(100, [], clock)
    run = runtime(feed, clock, pause=pause, give_up=give_up, retry=RetryPolicy(attempts=3))
    with pytest.raises(GaveUpError) as info:
        asyncio.run(run.take_async(SOURCE_COUNTS, 2, 41, b"x"))
    error = info.value.args[0]
    assert isinstance(error, RegistryUnreachableError)
    assert (error.topic, error.partition, error.offset, error.attempts) == (SOURCE_COUNTS, 2, 41, 3)
    assert isinstance(info.value.__cause__, RegistryUnavailableError)
    assert len(waits) == 2
    assert not feed.reconciler.windows  # nothing folded in


def test_the_replay_waits_on_the_injected_clock() -> None:
    clock = clock_at(T0)
    feed = FlakyFeed(2, [], clock)
    run = runtime(feed, clock, give_up=give_up)
    run.take(SOURCE_COUNTS, 0, 7, b"x")
    assert clock.sleeps == [RetryPolicy().delay(1), RetryPolicy().delay(2)]
    assert feed.reconciler.windows


class FlakyCommit:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[str, dict[tuple[str, int], int]]] = []

    def __call__(self, settings: Any, group: str, ends: dict[tuple[str, int], int]) -> None:
        self.calls.append((group, ends))
        if len(self.calls) <= self.failures:
            raise RuntimeError("REBALANCE_IN_PROGRESS")


def test_the_group_commit_waits_for_the_killed_member_to_leave() -> None:
    clock, commit = ManualClock(), FlakyCommit(3)
    ends = {(SOURCE_COUNTS, 0): 12}
    _commit_for_group(None, "streamhub-reconcile", ends, clock=clock, commit=commit)  # type: ignore[arg-type]
    assert clock.sleeps == [2.0, 2.0, 2.0]
    assert commit.calls[-1] == ("streamhub-reconcile", ends)


def test_the_group_commit_gives_up_after_its_budget_naming_the_group() -> None:
    clock, commit = ManualClock(), FlakyCommit(1_000)
    with pytest.raises(RebuildError, match="group streamhub-reconcile") as info:
        _commit_for_group(None, "streamhub-reconcile", {}, clock=clock, commit=commit)  # type: ignore[arg-type]
    assert isinstance(info.value.__cause__, RuntimeError)
    assert info.value.group == "streamhub-reconcile"
    assert GROUP_COMMIT_RETRY.within_s is not None
    assert clock.monotonic() <= GROUP_COMMIT_RETRY.within_s
    assert len(commit.calls) > 10  # kept trying for the whole budget, every 2 s
