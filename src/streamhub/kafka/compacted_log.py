"""A single-partition compacted Kafka topic as a small durable key/value log.

Writes are idempotent with acks=all and return only once the broker has
acknowledged them; a reader replays the topic from its start to its current
end and keeps the last value per key. The registry keeps its schemas this way;
the capture agent keeps its connector positions this way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.errors import StreamhubError
from streamhub.kafka.topics import ensure_topic, wait_for_leaders


def _encode(data: dict[str, Any] | None) -> bytes | None:
    if data is None:
        return None
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


# what a broker answers for a topic another broker has just created
_NOT_YET_KNOWN = frozenset(
    {
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
    }
)


class CompactedLog:
    """JSON key/value records in a single-partition compacted topic: append, then replay."""

    clock: Clock = SYSTEM_CLOCK  # paces the retries of a partition not yet known

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        purpose: str,
        error: type[StreamhubError],
        timeout_s: float = 30.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.purpose = purpose  # names the log in error messages: "registry", "capture positions"
        self.error = error
        self.timeout_s = timeout_s
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 0,
            }
        )

    def ensure_topic(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        config = {"cleanup.policy": "compact"}  # min ISR: the cluster rule (ensure_topic)
        try:
            created = ensure_topic(admin, self.topic, config=config, timeout_s=self.timeout_s)
        except KafkaException as exc:
            raise self.error(f"cannot create {self.purpose} topic {self.topic}: {exc}") from exc
        if created and not wait_for_leaders(admin, self.topic, self.timeout_s):
            raise self.error(
                f"{self.purpose} topic {self.topic} has no partition leader after "
                f"{self.timeout_s:.0f}s; check the broker log under <data_dir>/kafka/"
            )

    def replay(self) -> Iterable[tuple[Any, Any]]:
        """Every record from the start of the topic to its current end."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"streamhub-{self.purpose.replace(' ', '-')}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        try:
            low, high = self._watermarks(consumer)
            if high <= low:
                return
            consumer.assign([TopicPartition(self.topic, 0, low)])
            position = low
            while position < high:
                message = consumer.poll(self.timeout_s)
                if message is None:
                    raise self.error(
                        f"{self.purpose} topic {self.topic}: no data at offset {position} "
                        f"of {high} within {self.timeout_s}s; is the broker healthy?"
                    )
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        break
                    raise self.error(f"{self.purpose} topic {self.topic}: {error}")
                position = (message.offset() or position) + 1
                raw_key = message.key()
                if raw_key is None:
                    continue
                raw_value = message.value()
                yield json.loads(raw_key), (json.loads(raw_value) if raw_value else None)
        finally:
            consumer.close()

    def _watermarks(self, consumer: Consumer) -> tuple[int, int]:
        """The partition's low and high offsets. A topic just created is known to the broker
        that created it before the others (a cluster of several): a reader asking another
        one is told the partition is unknown for a moment, so ask again until the timeout."""
        partition = TopicPartition(self.topic, 0)
        deadline = self.clock.monotonic() + self.timeout_s
        while True:
            try:
                low, high = consumer.get_watermark_offsets(partition, timeout=self.timeout_s)
                return int(low), int(high)
            except KafkaException as exc:
                code = exc.args[0].code() if exc.args else None
                if code not in _NOT_YET_KNOWN or self.clock.monotonic() > deadline:
                    raise
            self.clock.sleep(0.2)

    def append(self, records: list[tuple[Any, Any]]) -> None:
        errors: list[str] = []

        def on_delivery(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        for key, value in records:
            self._producer.produce(
                self.topic, key=_encode(key), value=_encode(value), on_delivery=on_delivery
            )
        remaining = self._producer.flush(self.timeout_s)
        if remaining or errors:
            raise self.error(
                f"{self.purpose} topic {self.topic}: write not acknowledged "
                f"({remaining} pending, errors: {errors}); the change was not applied"
            )
