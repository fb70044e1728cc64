"""The lander's progress lines on stderr: rows landed per second and consumer lag."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from confluent_kafka import Consumer, KafkaException

from streamhub.core.clock import Clock

if TYPE_CHECKING:
    from streamhub.land.lander import LanderStats

_INVALID = -1001  # librdkafka's OFFSET_INVALID: not known yet


def consumer_lag(consumer: Consumer) -> int | None:
    """Messages behind the high watermarks last seen by fetches (no broker round trip)."""
    try:
        positions = consumer.position(consumer.assignment())
        lag = 0
        for tp in positions:
            _low, high = consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0 and tp.offset >= 0:
                lag += max(0, high - tp.offset)
        return lag
    except KafkaException:
        return None


class Progress:
    def __init__(
        self,
        stats: LanderStats,
        out: TextIO | None,
        every_s: float,
        clock: Clock,
    ) -> None:
        self._stats = stats
        self._out = out
        self._every_s = every_s
        self._clock = clock
        self._last_at = clock.monotonic()
        self._last_rows = 0

    def maybe_report(self, consumer: Consumer) -> None:
        now = self._clock.monotonic()
        if self._out is None or now - self._last_at < self._every_s:
            return
        rate = (self._stats.rows - self._last_rows) / max(now - self._last_at, 1e-9)
        lag = consumer_lag(consumer)
        print(
            f"land: {self._stats.rows:,} rows landed ({rate:,.0f}/s), "
            f"{self._stats.dead_letters:,} dead letters, lag "
            f"{'unknown' if lag is None else f'{lag:,}'}",
            file=self._out,
            flush=True,
        )
        self._last_at, self._last_rows = now, self._stats.rows

    def summary(self, failed: bool) -> None:
        if self._out is None:
            return
        stats = self._stats
        elapsed = max(self._clock.monotonic() - stats.started, 1e-9)
        targets = ", ".join(f"{k} {v:,}" for k, v in sorted(stats.rows_by_target.items()))
        print(
            f"land: {'stopped on an error' if failed else 'stopped'} after {elapsed:.1f}s: "
            f"{stats.messages:,} messages, {stats.rows:,} rows ({stats.rows / elapsed:,.0f}/s) "
            f"in {stats.batches:,} batches, {stats.dead_letters:,} dead letters, "
            f"{stats.retries:,} retries" + (f" [{targets}]" if targets else ""),
            file=self._out,
            flush=True,
        )
