"""Debezium's own heartbeats on ``dbz.heartbeat``: a RUNNING task that cannot reach its source.

Kafka Connect's status alone misses the commonest outage. When the source database stops
or refuses the connector's login, Debezium's PostgreSQL task treats the refused connection
as retriable (``RetriableException``: "Going to restart connector after 10 sec.") and Connect
keeps reporting it RUNNING. Debezium writes its heartbeats (every ``heartbeat.interval.ms``,
from ``heartbeat_s`` of the connector file; the rendered config routes them all to the shared
topic ``dbz.heartbeat``, keyed ``{"serverName": "dbz.<name>"}``, see ``debezium/render.py``)
from its streaming loop only, so they stop while the task cannot reach the database.

:class:`HeartbeatWatch` reads that topic (from its end: only what comes after it starts) and
notes, by its own clock, when each connector's last heartbeat arrived. While Connect says
RUNNING, a connector is *silent* when its last heartbeat is older than its threshold:

* ``threshold_s = max(factor × heartbeat_s, floor_s)``, by default 3 × the interval and at
  least 30 s. Three intervals let one late or batched heartbeat pass (Connect's producer
  lingers, this reader polls once per beat); the 30-s floor outlasts one retry of
  Debezium's (10 s between restarts) plus the new connection's first heartbeat, so a blip
  that heals by itself does not raise an alarm, and still leaves link health a failed
  heartbeat well within a minute of the outage.
* Before the first heartbeat of a connector since this watch started, the wait is counted
  from when Connect was first seen RUNNING and is ``startup_grace_s`` (default the larger of
  the threshold and 300 s): Debezium writes no heartbeat during its initial snapshot, and a
  worker just started may take a while to assign the task.
* Connect seen not RUNNING (paused, restarting…) and then RUNNING again restarts the count
  from then: a resumed connector gets one threshold to send its next heartbeat.

A silent connector's verdict is one line an operator can act on, with no secret in it:
"no Debezium heartbeat for 45 s while Connect reports RUNNING: the source database may be
unreachable". It clears as soon as a heartbeat arrives again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from streamhub.capture.connector import ConnectorConfig
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.debezium.render import HEARTBEAT_TOPIC, topic_prefix
from streamhub.log import get_logger

log = get_logger(__name__)

#: silent after this many heartbeat intervals without one …
FACTOR = 3.0
#: … and never sooner than this (one Debezium retry, 10 s, and its first heartbeat after)
FLOOR_S = 30.0
#: before a connector's first heartbeat: its initial snapshot writes none
STARTUP_GRACE_S = 300.0


class _Message(Protocol):
    def error(self) -> Any: ...
    def key(self) -> bytes | None: ...


class _Consumer(Protocol):
    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """When a connector counts as silent (see the module's docstring)."""

    threshold_s: float
    startup_grace_s: float

    @classmethod
    def of(
        cls,
        heartbeat_s: float,
        factor: float = FACTOR,
        floor_s: float = FLOOR_S,
        startup_grace_s: float = STARTUP_GRACE_S,
    ) -> Limits:
        threshold = max(factor * heartbeat_s, floor_s)
        return cls(threshold, max(threshold, startup_grace_s))


def server_name(key: bytes | None) -> str | None:
    """The ``serverName`` of a Debezium heartbeat's key (JsonConverter, with or without its
    schema envelope); None for anything else."""
    if not key:
        return None
    try:
        document = json.loads(key)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("payload"), dict):
        document = document["payload"]
    name = document.get("serverName") if isinstance(document, dict) else None
    return name if isinstance(name, str) else None


@dataclass
class _Seen:
    limits: Limits
    last_beat: float | None = None  # monotonic, this watch's clock
    running_since: float | None = None  # Connect RUNNING without a break since then


class HeartbeatWatch:
    """When each connector's last Debezium heartbeat arrived, and whether it is overdue."""

    def __init__(
        self,
        limits: Mapping[str, tuple[str, Limits]],
        consumer: _Consumer | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``limits``: connector name → (its Debezium server name, its limits)."""
        self.clock = clock
        self.consumer = consumer
        self._by_server = {server: name for name, (server, _) in limits.items()}
        self._seen = {name: _Seen(lim) for name, (_, lim) in limits.items()}

    @classmethod
    def for_connectors(
        cls,
        configs: Iterable[ConnectorConfig],
        consumer: _Consumer | None = None,
        clock: Clock = SYSTEM_CLOCK,
        **limits: float,
    ) -> HeartbeatWatch:
        """A watch of these connectors' heartbeats (``limits``: :meth:`Limits.of`'s options)."""
        return cls(
            {c.name: (topic_prefix(c), Limits.of(c.heartbeat_s, **limits)) for c in configs},
            consumer,
            clock,
        )

    @classmethod
    def from_bootstrap(
        cls,
        bootstrap: str,
        configs: Iterable[ConnectorConfig],
        clock: Clock = SYSTEM_CLOCK,
        **limits: float,
    ) -> HeartbeatWatch:
        """A watch reading ``dbz.heartbeat`` from its end, committing nothing (a group of its
        own: every normalizer sees every heartbeat)."""
        from confluent_kafka import Consumer

        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"streamhub-dbz-heartbeat-watch-{uuid.uuid4().hex[:12]}",
                "auto.offset.reset": "latest",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
            }
        )
        consumer.subscribe([HEARTBEAT_TOPIC])
        return cls.for_connectors(configs, consumer, clock, **limits)

    def seen(self, server: str) -> None:
        """A heartbeat of Debezium server ``server`` arrived now."""
        name = self._by_server.get(server)
        if name is not None:
            self._seen[name].last_beat = self.clock.monotonic()

    def drain(self, max_messages: int = 10_000) -> int:
        """Take every heartbeat waiting on the topic (not blocking); how many were read."""
        if self.consumer is None:
            return 0
        read = 0
        while read < max_messages:
            batch = self.consumer.consume(500, timeout=0)
            if not batch:
                break
            for message in batch:
                if message.error() is None:
                    read += 1
                    server = server_name(message.key())
                    if server is not None:
                        self.seen(server)
        return read

    def heartbeat_age_s(self, connector: str) -> float | None:
        """Seconds since ``connector``'s last Debezium heartbeat arrived (None: none yet)."""
        seen = self._seen.get(connector)
        if seen is None or seen.last_beat is None:
            return None
        return self.clock.monotonic() - seen.last_beat

    def silent(self, connector: str, running: bool) -> str | None:
        """Why ``connector`` is silent although Connect says RUNNING (``running``), or None.

        Called on every beat with Connect's verdict, so the watch knows since when it runs."""
        seen = self._seen.get(connector)
        if seen is None:
            return None
        now = self.clock.monotonic()
        if not running:
            seen.running_since = None
            return None
        if seen.running_since is None:
            seen.running_since = now
        if seen.last_beat is None:
            age, limit = now - seen.running_since, seen.limits.startup_grace_s
            if age <= limit:
                return None
            return (
                f"no Debezium heartbeat in {age:.0f} s since Connect reported RUNNING: "
                "the source database may be unreachable, or the initial snapshot still runs"
            )
        since = max(seen.last_beat, seen.running_since)
        age, limit = now - since, seen.limits.threshold_s
        if age <= limit:
            return None
        return (
            f"no Debezium heartbeat for {now - seen.last_beat:.0f} s while Connect reports "
            "RUNNING: the source database may be unreachable"
        )

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
