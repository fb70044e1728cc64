"""Fail-over: capture agents share a connector list through a Kafka consumer group.

The coordination topic has one partition per connector (connectors sorted by
name). Every agent joins the same group; the partitions a member is assigned
are the connectors it runs. When a member dies, the group coordinator notices
within the session timeout and hands its partitions to the others, which resume
those connectors from their stored positions. No message is ever written to
the topic: the group's assignment is the whole protocol.
"""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from streamhub.capture.errors import CaptureError
from streamhub.config import Settings
from streamhub.kafka.topics import ensure_topic

SESSION_TIMEOUT_MS = 6000


def coordination_topic(settings: Settings) -> str:
    return f"_{settings.capture_group.replace('-', '_')}_connectors"


class Membership:
    def __init__(self, settings: Settings, connectors: list[str]) -> None:
        self.connectors = sorted(connectors)
        self.topic = coordination_topic(settings)
        self._ensure_partitions(settings)
        self._assigned: set[str] = set()
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": settings.capture_group,
                "session.timeout.ms": SESSION_TIMEOUT_MS,
                "heartbeat.interval.ms": 1000,
                "partition.assignment.strategy": "roundrobin",
                "enable.auto.commit": False,
            }
        )
        self._consumer.subscribe([self.topic], on_assign=self._on_assign)

    def _ensure_partitions(self, settings: Settings) -> None:
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        try:
            ensure_topic(admin, self.topic, partitions=max(len(self.connectors), 1))
        except KafkaException as exc:
            raise CaptureError(
                f"cannot prepare the coordination topic {self.topic}: {exc}"
            ) from exc

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned = {
            self.connectors[p.partition] for p in partitions if p.partition < len(self.connectors)
        }

    def poll(self) -> set[str]:
        """Keep the membership alive; the connectors this agent should run now."""
        self._consumer.poll(0.2)
        return set(self._assigned)

    def close(self) -> None:
        self._consumer.close()  # leaves the group: the others take over at once
