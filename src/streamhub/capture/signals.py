"""Requests to running connectors (re-snapshot a table), through a Kafka topic.

Whichever agent holds a connector reads the signals addressed to it, so an
operator need not know where the connector runs. A task reads from the end of
the topic as it starts: a request is meant for the connector that runs now.
"""

from __future__ import annotations

import json
import time
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from streamhub.capture.errors import CaptureError
from streamhub.config import Settings
from streamhub.kafka.topics import ensure_topic

TOPIC_SUFFIX = "_signals"


def signal_topic(settings: Settings) -> str:
    return f"_{settings.capture_group.replace('-', '_')}{TOPIC_SUFFIX}"


def _ensure(settings: Settings, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    try:
        ensure_topic(admin, topic)
    except KafkaException as exc:
        raise CaptureError(f"cannot create the signal topic {topic}: {exc}") from exc


def send_snapshot_request(settings: Settings, connector: str, table: str) -> None:
    topic = signal_topic(settings)
    _ensure(settings, topic)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all"})
    document = {"connector": connector, "action": "snapshot", "table": table, "ts": time.time()}
    producer.produce(topic, key=connector.encode(), value=json.dumps(document).encode())
    if producer.flush(15):
        raise CaptureError(f"the snapshot request for {connector} was not acknowledged by Kafka")


class SignalListener:
    def __init__(self, settings: Settings, connector: str) -> None:
        self.connector = connector
        topic = signal_topic(settings)
        _ensure(settings, topic)
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": f"streamhub-signals-{connector}",
                "enable.auto.commit": False,
            }
        )
        partition = TopicPartition(topic, 0)
        _, high = self._consumer.get_watermark_offsets(partition, timeout=10)
        self._consumer.assign([TopicPartition(topic, 0, high)])

    def poll(self) -> list[dict[str, Any]]:
        """Requests for this connector that arrived since the last poll."""
        found: list[dict[str, Any]] = []
        while True:
            message = self._consumer.poll(0)
            if message is None:
                return found
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return found
                raise CaptureError(f"signal topic: {error}")
            document = json.loads(message.value() or b"{}")
            if document.get("connector") == self.connector:
                found.append(document)

    def close(self) -> None:
        self._consumer.close()
