"""Kafka messages → reconciler inputs: decode (Avro via the registry), route by topic, apply.

Shared by the live app and its start-up replay, so both fold exactly the same way.
A message that does not decode, or that the reconciler refuses (a window of another
length, a table two databases could hold), is logged and counted, never fatal: one bad
record must not stop every institution's reconciliation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamhub.core.topic_names import (
    DEAD_LETTER_TOPICS,
    DLQ_CAPTURE,
    DLQ_LAND,
    DLQ_STANDARDIZE,
    LANDED_COUNTS,
    SOURCE_COUNTS,
    STANDARDIZED_COUNTS,
)
from streamhub.log import get_logger
from streamhub.reconcile.errors import ReconcileError
from streamhub.reconcile.inputs import (
    landed_from_avro,
    oversized_change_version,
    rejection_from_avro,
    source_from_avro,
)
from streamhub.reconcile.metrics import ReconcileMetrics
from streamhub.reconcile.reconciler import Reconciler
from streamhub.serde.avro_serde import AvroSerde
from streamhub.serde.errors import RegistryUnavailableError, SerdeError
from streamhub.serde.wire import MessageRef
from streamhub.standardize.pseudonym_keys import IdentityTokens

log = get_logger(__name__)

#: What the reconciler folds in. ops.standardized_counts is what reached std.*, per source
#: table and commit minute (the standardizer's own count, in the landed counts' shape): the
#: "standardized" column, and where a gap sits. Of dlq.capture only the MessageTooLarge
#: letters count (a change too large for Kafka, still counted at the source); its other
#: letters are of rows that flowed on.
INPUT_TOPICS: tuple[str, ...] = (
    SOURCE_COUNTS,
    LANDED_COUNTS,
    STANDARDIZED_COUNTS,
    DLQ_STANDARDIZE,
    DLQ_LAND,
    DLQ_CAPTURE,
)

KIND = {
    SOURCE_COUNTS: "source",
    LANDED_COUNTS: "landed",
    STANDARDIZED_COUNTS: "standardized",
    **dict.fromkeys(DEAD_LETTER_TOPICS, "rejection"),
}


@dataclass
class Feed:
    reconciler: Reconciler
    serde: AvroSerde
    metrics: ReconcileMetrics
    # the standardizer's identity key: a capture MessageTooLarge letter carries the row key
    # and position, not the (keyed) version; without it such letters are counted as they come
    identity: IdentityTokens | None = None

    def decode(
        self, topic: str, partition: int, offset: int, value: bytes | None
    ) -> dict[str, Any] | None:
        """The decoded record, or None (counted) when it is not one. A registry outage
        raises: the caller retries rather than skipping inputs."""
        if value is None:
            return None
        try:
            decoded = self.serde.decode(value, MessageRef(topic, partition, offset)).value
        except RegistryUnavailableError:
            raise
        except SerdeError as exc:
            self.metrics.inputs.labels(KIND.get(topic, topic), "undecodable").inc()
            log.warning(
                "reconcile input does not decode",
                extra={"topic": topic, "partition": partition, "offset": offset, "error": str(exc)},
            )
            return None
        return decoded if isinstance(decoded, dict) else None

    def apply(self, topic: str, value: dict[str, Any]) -> str:
        """Fold one decoded input in; the outcome label it was counted under."""
        kind = KIND[topic]
        try:
            outcome = self._apply(topic, value)
        except (ReconcileError, KeyError, TypeError, ValueError) as exc:
            outcome = "refused"
            log.warning(
                "reconcile input refused",
                extra={
                    "topic": topic,
                    "institution": value.get("institution_id"),
                    "table": value.get("table"),
                    "error": str(exc),
                },
            )
        self.metrics.inputs.labels(kind, outcome).inc()
        return outcome

    def _apply(self, topic: str, value: dict[str, Any]) -> str:
        rec = self.reconciler
        if topic == SOURCE_COUNTS:
            return rec.apply_source(source_from_avro(value)).value
        if topic == LANDED_COUNTS:
            return rec.apply_landed(landed_from_avro(value)).value
        if topic == STANDARDIZED_COUNTS:
            return rec.apply_standardized(landed_from_avro(value)).value
        version = None
        if topic == DLQ_CAPTURE and self.identity is not None:
            version = oversized_change_version(value, self.identity)
        rejection = rejection_from_avro(value, version=version)
        if rejection is None:
            return "ignored"  # not a record withheld from ClickHouse (e.g. no institution)
        return rec.apply_rejection(rejection).value
