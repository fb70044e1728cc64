"""Maintenance windows and acknowledgements as a compacted Kafka topic.

Operators write them with ``streamhub anomaly ack`` / ``maintenance``; the running app
reads the whole topic at start and then follows it, so a declaration applies within a
tick and survives restarts. Compaction keeps the latest value per key: one key per
window id and per acknowledged anomaly id; a cancelled window is a tombstone. JSON, like
the capture positions topic: it is the app's own state, not a contract with consumers.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from streamhub.anomaly.errors import InvalidSuppressionError, SuppressionLogError
from streamhub.anomaly.suppression import Acknowledgement, MaintenanceWindow, Suppressions
from streamhub.kafka.compacted_log import CompactedLog

SUPPRESSIONS_TOPIC = "_anomaly_suppressions"

log = logging.getLogger(__name__)

Change = Acknowledgement | MaintenanceWindow | str  # str: the id of a cancelled window


class SuppressionLog:
    """Writes declarations to the topic (the CLI's side)."""

    def __init__(self, bootstrap: str, topic: str = SUPPRESSIONS_TOPIC) -> None:
        self.log = CompactedLog(
            bootstrap, topic, purpose="anomaly suppressions", error=SuppressionLogError
        )

    def acknowledge(self, ack: Acknowledgement) -> None:
        self.log.ensure_topic()
        self.log.append([({"ack": ack.anomaly_id}, asdict(ack))])

    def declare(self, window: MaintenanceWindow) -> None:
        self.log.ensure_topic()
        self.log.append([({"maintenance": window.window_id}, asdict(window))])

    def cancel(self, window_id: str) -> None:
        self.log.ensure_topic()
        self.log.append([({"maintenance": window_id}, None)])


def parse_change(raw_key: bytes | None, raw_value: bytes | None) -> Change | None:
    """One topic record as a change, or None when it is not one of ours."""
    if raw_key is None:
        return None
    try:
        key = json.loads(raw_key)
        value: dict[str, Any] | None = json.loads(raw_value) if raw_value else None
    except ValueError as exc:
        raise SuppressionLogError(f"unreadable suppression record {raw_key!r}: {exc}") from exc
    try:
        if "ack" in key:
            return Acknowledgement(**value) if value else None
        if "maintenance" in key:
            return MaintenanceWindow(**value) if value else str(key["maintenance"])
    except (TypeError, InvalidSuppressionError) as exc:
        raise SuppressionLogError(f"suppression record {key} does not fit: {exc}") from exc
    return None


def apply_change(suppressions: Suppressions, change: Change) -> None:
    if isinstance(change, Acknowledgement):
        suppressions.acknowledge(change)
    elif isinstance(change, MaintenanceWindow):
        suppressions.declare(change)
    else:
        suppressions.cancel(change)


class SuppressionFollower:
    """Reads the topic from its start, then polls it without blocking (the app's side)."""

    def __init__(self, bootstrap: str, topic: str = SUPPRESSIONS_TOPIC) -> None:
        SuppressionLog(bootstrap, topic).log.ensure_topic()
        self.topic = topic
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "streamhub-anomaly-suppressions",
                "enable.auto.commit": False,
            }
        )
        self.consumer.assign([TopicPartition(topic, 0, 0)])

    def catch_up(self, timeout_s: float = 30.0) -> list[Change]:
        """Every change up to the topic's current end."""
        partition = TopicPartition(self.topic, 0)
        low, high = self.consumer.get_watermark_offsets(partition, timeout=timeout_s)
        changes: list[Change] = []
        position = low
        deadline = time.monotonic() + timeout_s
        while position < high:
            # short waits: consume(n, timeout) waits out its whole timeout for n messages,
            # which made every start with a few suppressions wait timeout_s
            batch = self.consumer.consume(500, timeout=0.2)
            if not batch and time.monotonic() <= deadline:
                continue
            if not batch:
                raise SuppressionLogError(
                    f"suppressions topic {self.topic}: no data at offset {position} of {high} "
                    f"within {timeout_s:.0f}s; is the broker healthy?"
                )
            changes += self._changes(batch)
            position = max((m.offset() or 0) + 1 for m in batch)
        return changes

    def poll(self) -> list[Change]:
        """Changes written since the last call; never waits."""
        return self._changes(self.consumer.consume(500, timeout=0))

    def close(self) -> None:
        self.consumer.close()

    def _changes(self, messages: list[Any]) -> list[Change]:
        out: list[Change] = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise SuppressionLogError(f"suppressions topic {self.topic}: {error}")
            try:
                change = parse_change(message.key(), message.value())
            except SuppressionLogError as exc:
                # one bad record must not stop the app (or its next start): skip, say so
                log.warning("suppression record skipped", extra={"error": str(exc)})
                continue
            if change is not None:
                out.append(change)
        return out
