"""A partition whose leader is gone fails one health check, not the exporter process."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streamhub.health.errors import HealthError
from streamhub.health.reading import KafkaReader


class _LeaderlessConsumer:
    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "Failed to get watermark offsets"))


def test_watermarks_of_a_leaderless_partition_raise_a_health_error() -> None:
    reader = KafkaReader.__new__(KafkaReader)  # no broker: the consumer is the fake's
    reader.bootstrap = "127.0.0.1:1"
    reader._marks = {}
    reader.consumer = _LeaderlessConsumer()  # type: ignore[assignment]
    with pytest.raises(HealthError, match=r"no watermarks of std\.encounter\[3\]"):
        reader.watermarks(TopicPartition("std.encounter", 3))
