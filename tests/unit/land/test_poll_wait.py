"""The lander's poll waits no longer than the buffered batch has left before it is due: a
poll returns early only when ``consume_batch`` messages came, so a poll of the full
``flush_ms`` would let the oldest message wait up to twice ``flush_ms``."""

from __future__ import annotations

import pytest

from tests.unit.land.test_lander import FakeConsumer, FakeMessage, Harness, encounters


class SlowConsumer(FakeConsumer):
    """One message per poll, each after 150 ms; records every poll's timeout."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.timeouts: list[float] = []

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        self.timeouts.append(timeout)
        if self._pending and len(self.timeouts) > 1:
            self._clock.advance(0.15)
        return super().consume(1, timeout)


def test_a_poll_waits_only_until_the_batch_is_due() -> None:
    h = Harness(list(encounters(2)))
    h.consumer = consumer = SlowConsumer([b"v0", b"v1"], h.clock, h.events)
    stats = h.lander().run()

    assert stats.rows == 2 and h.commits() == [{("std.encounter", 0): 2}]
    # nothing buffered: a full flush_ms (200 ms); then the batch's first message is 0 ms old,
    # then 150 ms old: 50 ms left, not another 200
    assert consumer.timeouts[:3] == pytest.approx([0.2, 0.2, 0.05])
    assert all(t == 0.2 for t in consumer.timeouts[4:])  # empty again after the flush
