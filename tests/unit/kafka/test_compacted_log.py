"""A compacted log read right after another broker created its topic: the partition is
unknown to the broker asked for a moment, and the reader asks again (on the injected clock)
instead of failing the capture agent's or the registry's start."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from streamhub.core.clock import ManualClock
from streamhub.errors import StreamhubError
from streamhub.kafka.compacted_log import CompactedLog


class _Consumer:
    def __init__(self, unknown_for: int, code: int = KafkaError._UNKNOWN_PARTITION) -> None:
        self.unknown_for = unknown_for
        self.code = code
        self.asked = 0

    def get_watermark_offsets(self, partition: object, timeout: float) -> tuple[int, int]:
        self.asked += 1
        if self.asked <= self.unknown_for:
            raise KafkaException(KafkaError(self.code))
        return 3, 9


def _log() -> CompactedLog:
    log = CompactedLog(
        "127.0.0.1:1", "_positions", purpose="capture positions", error=StreamhubError,
        timeout_s=10,
    )  # fmt: skip
    log.clock = ManualClock()
    return log


def test_a_partition_not_yet_known_is_asked_for_again() -> None:
    consumer = _Consumer(unknown_for=3)
    assert _log()._watermarks(consumer) == (3, 9)  # type: ignore[arg-type]
    assert consumer.asked == 4


def test_it_gives_up_after_the_timeout_and_on_other_errors_at_once() -> None:
    with pytest.raises(KafkaException):
        _log()._watermarks(_Consumer(unknown_for=1000))  # type: ignore[arg-type]
    refused = _Consumer(unknown_for=1, code=KafkaError.TOPIC_AUTHORIZATION_FAILED)
    with pytest.raises(KafkaException):
        _log()._watermarks(refused)  # type: ignore[arg-type]
    assert refused.asked == 1
