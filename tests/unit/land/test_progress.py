"""The lander's progress lines: paced by the clock, with the consumer's lag."""

from __future__ import annotations

import io
from typing import Any, cast

from confluent_kafka import TopicPartition

from streamhub.core.clock import ManualClock
from streamhub.land.lander import LanderStats
from streamhub.land.progress import Progress


class AssignedConsumer:
    """Two partitions read up to 40 and 5 of 100 and 5 messages."""

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("t", 0), TopicPartition("t", 1)]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition("t", 0, 40), TopicPartition("t", 1, 5)]

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool) -> tuple[int, int]:
        return (0, 100) if tp.partition == 0 else (0, 5)


def test_reports_every_interval_with_rate_and_lag() -> None:
    clock, out = ManualClock(), io.StringIO()
    stats = LanderStats(started=clock.monotonic())
    progress = Progress(stats, out, 10.0, clock)
    consumer = cast(Any, AssignedConsumer())
    stats.rows = 500
    clock.advance(9.0)
    progress.maybe_report(consumer)
    assert out.getvalue() == ""
    clock.advance(1.0)
    progress.maybe_report(consumer)
    assert out.getvalue() == "land: 500 rows landed (50/s), 0 dead letters, lag 60\n"
    clock.advance(10.0)
    progress.summary(failed=False)
    assert out.getvalue().splitlines()[-1].startswith("land: stopped after 20.0s: 0 messages")
