"""Reading partitions in bulk: confluent-kafka's own messages, no copy per message.

Link health reads about 2.4 million ops records for a province's horizon and decodes few
of them, so the cost per message read is what counts: this loop keeps to what a range read
needs (error, place, offset) and hands out confluent's ``Message`` objects as they come.
The rules are those of :func:`streamhub.kafka.reading.read_range`: partitions assigned
(no group joined), each paused once read to its end, one that ends with a compacted-away
or control record recognized by the consumer's position, a deadline for the whole read.
"""

from __future__ import annotations

from collections.abc import Iterator

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.health.errors import HealthError
from streamhub.kafka.reading import Offsets, read_past

BATCH = 5_000


def scan(
    consumer: Consumer,
    starts: Offsets,
    ends: Offsets,
    *,
    timeout_s: float,
    clock: Clock = SYSTEM_CLOCK,
) -> Iterator[Message]:
    """The messages of every partition in ``starts`` from its start up to its offset in
    ``ends`` (excluded); HealthError on a consumer error or when nothing came for
    ``timeout_s`` (a stall, not a slow read: a province's horizon takes a while)."""
    wanted = {where: ends[where] for where, start in starts.items() if start < ends.get(where, 0)}
    if not wanted:
        return
    assignment = [TopicPartition(topic, part, starts[(topic, part)]) for topic, part in wanted]
    consumer.assign(assignment)

    def done(where: tuple[str, int]) -> None:
        del wanted[where]
        consumer.pause([TopicPartition(*where)])

    deadline = clock.monotonic() + timeout_s
    try:
        while wanted:
            if clock.monotonic() > deadline:
                places = ", ".join(f"{t}[{p}]" for t, p in sorted(wanted))
                raise HealthError(
                    f"could not read {places} to their ends: nothing came for {timeout_s:.0f} s"
                )
            batch = consumer.consume(BATCH, timeout=0.5)
            if not batch:
                for where in read_past(consumer, wanted):
                    done(where)
                continue
            deadline = clock.monotonic() + timeout_s
            for message in batch:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        where = (message.topic() or "", message.partition() or 0)
                        if where in wanted:
                            done(where)
                        continue
                    raise HealthError(f"reading {message.topic()}[{message.partition()}]: {error}")
                where = (message.topic() or "", message.partition() or 0)
                end = wanted.get(where)
                if end is None:
                    continue
                offset = message.offset() or 0
                if offset >= end:
                    done(where)
                    continue
                yield message
                if offset + 1 >= end:
                    done(where)
    finally:
        consumer.resume(assignment)  # pausing outlives the assignment
        consumer.unassign()
