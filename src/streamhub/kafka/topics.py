"""Create a topic streamhub owns (positions, signals, coordination) if it is missing."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from streamhub.core.clock import SYSTEM_CLOCK, Clock

# another process creating the same topic at the same moment is not an error
_RACES = ("TOPIC_ALREADY_EXISTS", "INVALID_PARTITIONS")

#: replicas of a topic streamhub creates: 3 where the cluster has them
MAX_REPLICATION = 3


def replication_for(brokers: int) -> int:
    """Replicas of a topic streamhub creates on a cluster of ``brokers``: 3, fewer on a
    smaller cluster (the local single broker)."""
    return max(1, min(MAX_REPLICATION, brokers))


def min_insync_for(replication: int) -> int:
    """``min.insync.replicas`` for ``replication`` replicas: one fewer than the replicas, at
    most 2 and at least 1, so an ``acks=all`` write survives the loss of any one broker and
    still goes on while one is down (3 → 2; 2 and 1 → 1)."""
    return max(1, min(2, replication - 1))


def ensure_topic(
    admin: AdminClient,
    name: str,
    *,
    partitions: int = 1,
    config: dict[str, str] | None = None,
    timeout_s: float = 15.0,
) -> bool:
    """Create ``name`` (replicated up to 3, with the matching ``min.insync.replicas`` unless
    ``config`` sets it), or grow it to ``partitions``.

    Returns whether it had to be created. Raises KafkaException on a real failure.
    """
    metadata = admin.list_topics(timeout=timeout_s)
    existing = metadata.topics.get(name)
    try:
        if existing is None:
            replication = replication_for(len(metadata.brokers))
            configs = {"min.insync.replicas": str(min_insync_for(replication)), **(config or {})}
            new = NewTopic(name, partitions, replication_factor=replication, config=configs)
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
