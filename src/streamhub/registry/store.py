"""The registry's durable store: a single-partition compacted Kafka topic.

Changes are written to Kafka (acks=all, idempotent) and applied to memory only
after the broker acknowledged them, so an answer the registry gave survives a
restart. One registry process writes the topic (single writer); at start it
replays the topic to its end.
"""

from __future__ import annotations

import threading

from streamhub.kafka.compacted_log import CompactedLog
from streamhub.log import get_logger
from streamhub.registry.errors import StorageError
from streamhub.registry.state import Record, RegistryState

log = get_logger(__name__)


class KafkaLog(CompactedLog):
    """The registry's topic (``_schemas`` by default)."""

    def __init__(self, bootstrap: str, topic: str, timeout_s: float = 30.0) -> None:
        super().__init__(
            bootstrap, topic, purpose="registry", error=StorageError, timeout_s=timeout_s
        )


class RegistryStore:
    """Thread-safe registry operations over the Kafka log."""

    def __init__(self, log_: KafkaLog) -> None:
        self._log = log_
        self._lock = threading.Lock()
        self.state = RegistryState()

    def load(self) -> int:
        self._log.ensure_topic()
        count = 0
        for key, value in self._log.replay():
            self.state.apply(key, value)
            count += 1
        log.info(
            "registry loaded",
            extra={"topic": self._log.topic, "records": count, "schemas": len(self.state.schemas)},
        )
        return count

    def _commit(self, records: list[Record]) -> None:
        if records:
            self._log.append(records)
            for key, value in records:
                self.state.apply(key, value)

    def register(self, subject: str, schema_text: str) -> tuple[int, int]:
        """(schema id, version) of the schema under the subject, registering it if new."""
        with self._lock:
            schema_id, record = self.state.plan_register(subject, schema_text)
            if record is not None:
                self._commit([record])
                log.info(
                    "schema registered",
                    extra={"subject": subject, "id": schema_id, "version": record[0]["version"]},
                )
                return schema_id, int(record[0]["version"])
            return schema_id, self.state.version_of(subject, schema_id)

    def delete(self, subject: str, version: str | int | None, permanent: bool) -> list[int]:
        with self._lock:
            records = self.state.plan_delete(subject, version, permanent)
            self._commit(records)
            return [int(key["version"]) for key, _ in records]

    def set_level(self, subject: str | None, level: str | None) -> None:
        with self._lock:
            self._commit([self.state.plan_level(subject, level)])
