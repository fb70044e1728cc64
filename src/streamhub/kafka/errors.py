"""Why a read from or a write to Kafka through streamhub's wrappers failed.

The root is :class:`KafkaIOError`, not ``KafkaError``: confluent-kafka and aiokafka both
export a ``KafkaError`` (confluent's is an error *code*, not an exception), and modules here
import confluent's beside ours.
"""

from __future__ import annotations

from collections.abc import Iterable

from streamhub.errors import StreamhubError


class KafkaIOError(StreamhubError):
    """Kafka did not answer as asked: check the broker (`streamhub stack status`) and retry."""


class TopicReadError(KafkaIOError):
    """A topic could not be read to its end (broker down or too slow): retry, or check
    `streamhub stack status`."""

    def __init__(self, message: str, partitions: Iterable[tuple[str, int]] = ()) -> None:
        super().__init__(message)
        #: the (topic, partition) pairs left unread
        self.partitions = tuple(partitions)


class GroupOffsetsError(KafkaIOError):
    """A consumer group's committed offsets could not be read or set."""

    def __init__(self, message: str, group: str) -> None:
        super().__init__(message)
        self.group = group


class BatchFailedError(KafkaIOError):
    """A consumed batch kept failing (processing or delivery) after its retries: the worker
    exits without committing it, and a restart re-reads it from the last commit."""


class DeliveryError(KafkaIOError):
    """Outputs of a batch were not acknowledged by the broker (failed or timed out): the batch
    is retried, its offsets stay uncommitted until every output is delivered."""
