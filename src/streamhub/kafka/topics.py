"""Create a topic streamhub owns (positions, signals, coordination) if it is missing."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

# another process creating the same topic at the same moment is not an error
_RACES = ("TOPIC_ALREADY_EXISTS", "INVALID_PARTITIONS")


def ensure_topic(
    admin: AdminClient,
    name: str,
    *,
    partitions: int = 1,
    config: dict[str, str] | None = None,
    timeout_s: float = 15.0,
) -> bool:
    """Create ``name`` (replicated up to 3), or grow it to ``partitions``.

    Returns whether it had to be created. Raises KafkaException on a real failure.
    """
    metadata = admin.list_topics(timeout=timeout_s)
    existing = metadata.topics.get(name)
    try:
        if existing is None:
            replication = min(3, len(metadata.brokers))
            new = NewTopic(name, partitions, replication_factor=replication, config=config or {})
            admin.create_topics([new])[name].result(timeout_s)
            return True
        if len(existing.partitions) < partitions:
            admin.create_partitions([NewPartitions(name, partitions)])[name].result(timeout_s)
    except KafkaException as exc:
        if not any(race in str(exc) for race in _RACES):
            raise
    return existing is None
