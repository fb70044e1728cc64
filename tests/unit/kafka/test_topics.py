"""Waiting for a new topic's leaders runs on the injected clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamhub.core.clock import ManualClock
from streamhub.kafka.topics import min_insync_for, replication_for, wait_for_leaders


@dataclass
class _Partition:
    leader: int


@dataclass
class _Topic:
    partitions: dict[int, _Partition]
    error: Any = None


@dataclass
class _Metadata:
    topics: dict[str, _Topic] = field(default_factory=dict)


class _Admin:
    """Shows the topic (with leaders) only after ``visible_after`` metadata requests."""

    def __init__(self, visible_after: int | None) -> None:
        self.visible_after = visible_after
        self.asked = 0

    def list_topics(self, name: str, timeout: float) -> _Metadata:
        self.asked += 1
        if self.visible_after is None or self.asked <= self.visible_after:
            return _Metadata({name: _Topic({0: _Partition(-1)})})  # created, no leader yet
        return _Metadata({name: _Topic({0: _Partition(1), 1: _Partition(2)})})


def test_waits_until_every_partition_has_a_leader() -> None:
    clock = ManualClock()
    admin = _Admin(visible_after=3)
    assert wait_for_leaders(admin, "ops.signals", timeout_s=15, clock=clock)  # type: ignore[arg-type]
    assert clock.sleeps == [0.1, 0.1, 0.1]


def test_gives_up_at_the_timeout_without_waiting_for_real() -> None:
    clock = ManualClock()
    admin = _Admin(visible_after=None)
    assert not wait_for_leaders(admin, "ops.signals", timeout_s=2, clock=clock)  # type: ignore[arg-type]
    assert clock.monotonic() >= 2
    assert len(clock.sleeps) == admin.asked and 20 <= admin.asked <= 21  # float steps of 0.1


def test_topics_streamhub_creates_survive_one_lost_broker_where_there_are_three() -> None:
    assert [replication_for(n) for n in (1, 2, 3, 5)] == [1, 2, 3, 3]
    # an acks=all write needs min ISR replicas: one fewer than the replicas, so losing
    # one broker neither loses an acknowledged write nor stops the writes
    assert [min_insync_for(r) for r in (1, 2, 3, 5)] == [1, 1, 2, 2]
