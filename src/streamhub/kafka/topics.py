"""Create a topic streamhub owns (positions, signals, coordination) if it is missing."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from streamhub.core.clock import SYSTEM_CLOCK, Clock

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


def wait_for_leaders(
    admin: AdminClient, name: str, timeout_s: float = 15.0, clock: Clock = SYSTEM_CLOCK
) -> bool:
    """Wait until a just-created topic is in the metadata with a leader for every partition.

    Creation returns before every broker's metadata shows the topic; readers, writers and a
    second `topics apply` would not see it yet. Returns False on timeout.
    """
    deadline = clock.monotonic() + timeout_s
    while clock.monotonic() < deadline:
        topic = admin.list_topics(name, timeout=timeout_s).topics.get(name)
        partitions = topic.partitions if topic is not None and topic.error is None else {}
        if partitions and all(p.leader >= 0 for p in partitions.values()):
            return True
        clock.sleep(0.1)
    return False
