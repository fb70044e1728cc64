"""Plain inputs of the link-health evaluation, and its result.

Everything here is data: :mod:`.gather` fills an :class:`Observation` from Kafka (or a
test builds one by hand), :func:`~.evaluate.evaluate` turns it into
:class:`InstitutionHealth` values. Times are UTC epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from streamhub.core.topic_names import (
    DEAD_LETTER_TOPICS,
    HEARTBEAT,
    LANDED_COUNTS,
    SOURCE_COUNTS,
    raw_topic,
)

HOPS = ("source", "capture", "channel", "processing", "center")
STAGES = ("capture", "standardize", "land")  # dead-letter stages (dlq.<stage>)


class Status(IntEnum):
    """Ordered by severity; the value is the Prometheus encoding (0 healthy ... 2 down)."""

    HEALTHY = 0
    DEGRADED = 1
    DOWN = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class OpsTopics:
    """The topics link health reads its history from: the catalog's by default (a benchmark
    or test gives its own)."""

    heartbeat: str = HEARTBEAT
    source_counts: str = SOURCE_COUNTS
    landed_counts: str = LANDED_COUNTS
    dead_letters: tuple[str, ...] = DEAD_LETTER_TOPICS


@dataclass(frozen=True)
class Connector:
    """A connector that should exist: from the connector files (address known) or heard of
    only through its heartbeats (``host`` None)."""

    name: str
    institution_id: str
    system: str
    institution_name: str | None = None
    host: str | None = None
    port: int | None = None

    @property
    def topic(self) -> str:
        return raw_topic(self.system)


@dataclass(frozen=True)
class Beat:
    """One ops.heartbeat value (the fields health needs)."""

    emitted_ts_ms: int
    state: str
    events_total: int
    errors_total: int
    lag_bytes: int | None = None
    lag_ms: int | None = None
    last_event_ts_ms: int | None = None
    error: str | None = None  # why it is not streaming, in its engine's words (Debezium: Connect's)


@dataclass(frozen=True)
class TopicLag:
    """How far a consumer group is behind on one topic (all partitions together)."""

    group: str
    topic: str
    messages: int  # behind the ends
    oldest_ts_ms: int | None = None  # timestamp of the oldest message not yet consumed
    committed: bool = True  # False: the group has no committed offset on this topic


@dataclass(frozen=True)
class ActivityWindow:
    """One minute of source changes (ops.source_counts) with at least one change."""

    institution_id: str
    window_start_ms: int
    window_ms: int = 60_000

    @property
    def end_ms(self) -> int:
        return self.window_start_ms + self.window_ms


@dataclass(frozen=True)
class Observation:
    """What was read from Kafka at ``now_ms``; the topics' history from ``since_ms``."""

    now_ms: int
    since_ms: int
    standardize_group: str
    lander_group: str
    # configured connectors, plus those only heard of through heartbeats
    connectors: tuple[Connector, ...] = ()
    # connector -> oldest first: its heartbeats of the recent window (Thresholds.recent_s)
    # and the one before them, which is all the evaluation reads (the newest, and the pairs
    # that count errors and restarts); a connector silent since still has its last one
    beats: dict[str, tuple[Beat, ...]] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)  # connector -> why (TCP probe)
    lags: tuple[TopicLag, ...] = ()
    missing_topics: frozenset[str] = frozenset()
    # (institution, stage) -> dead letters in the last ``Thresholds.recent_s``
    dead_letters: dict[tuple[str, str], int] = field(default_factory=dict)
    landed_commit_ms: dict[str, int] = field(default_factory=dict)  # newest landed commit
    # minutes with source changes that end after their institution's newest landed commit
    # (older ones are landed: the evaluation never looks at them), by institution and start
    activity: tuple[ActivityWindow, ...] = ()
    kafka_error: str | None = None  # set when Kafka could not be read at all


@dataclass(frozen=True)
class HopHealth:
    hop: str
    status: Status
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectorFigures:
    name: str
    heartbeat_age_s: float | None  # None: no heartbeat in the horizon
    source_lag_s: float | None


@dataclass(frozen=True)
class InstitutionHealth:
    institution_id: str
    name: str | None
    hops: tuple[HopHealth, ...]
    connectors: tuple[ConnectorFigures, ...] = ()
    dead_letters_per_minute: dict[str, float] = field(default_factory=dict)  # stage -> rate
    landing_freshness_s: float | None = None  # age of the newest landed commit

    @property
    def overall(self) -> Status:
        return max((h.status for h in self.hops), default=Status.HEALTHY)

    @property
    def reason(self) -> str:
        """The first reason of the first hop (source → center) at the overall status."""
        worst = self.overall
        for hop in self.hops:
            if hop.status == worst and hop.reasons:
                return f"{hop.hop}: {hop.reasons[0]}"
        return "all hops healthy"

    def hop(self, name: str) -> HopHealth:
        return next(h for h in self.hops if h.hop == name)
