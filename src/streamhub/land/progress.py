"""The lander's progress lines on stderr: rows landed per second and consumer lag."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from confluent_kafka import Consumer

from streamhub.core.clock import Clock
from streamhub.kafka.groups import assigned_lag

if TYPE_CHECKING:
    from streamhub.land.lander import LanderStats


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
        lag = assigned_lag(consumer)
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
