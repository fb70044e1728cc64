"""Start the anomaly app warm: suppressions loaded, state restored, the gap published.

The detector's state comes from the latest snapshot (:mod:`.snapshot_log`) and the inputs
after its offsets are replayed: at most one snapshot interval of them. Without a usable
snapshot (none yet, other detector settings, unreadable) the last ``--history`` of the
inputs is replayed instead, as before snapshots existed; see :mod:`.service` for why. The
input group's offsets are then set to where the replay stopped, so the live app continues
from exactly there: nothing is judged twice or skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import KafkaException, Producer

from streamhub.anomaly.codec import INPUT_TOPICS, OpsCodec, connector_of_key
from streamhub.anomaly.detector import DetectorConfig, TrafficDetector
from streamhub.anomaly.errors import GroupOffsetsError, PublishError, SnapshotError
from streamhub.anomaly.events import AnomalyEvent
from streamhub.anomaly.history import History, read_from, read_since
from streamhub.anomaly.metrics import anomaly_metrics
from streamhub.anomaly.service import AnomalyService, ReplayClock, Scope, signature
from streamhub.anomaly.snapshot_log import SnapshotLog, state_topic_of
from streamhub.anomaly.state import DEFAULT_INTERVAL_MS, restore
from streamhub.anomaly.suppression_log import (
    SUPPRESSIONS_TOPIC,
    SuppressionFollower,
    apply_change,
)
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.core.errors import RetriesExhaustedError
from streamhub.core.retry import RetryPolicy, retry_call
from streamhub.core.topic_names import ANOMALY, HEARTBEAT
from streamhub.kafka.groups import commit_offsets
from streamhub.kafka.reading import Offsets

log = logging.getLogger(__name__)

# heartbeats come every few seconds; one per connector per this many ms is enough to
# replay how far each connector had read and when it went quiet (stale after a minute)
REPLAY_HEARTBEAT_EVERY_MS = 15_000

#: a worker killed a moment ago (kill -9) stays a member of the group until its session
#: times out (10 s, faust_settings), and until then the broker refuses an outside commit
#: with UNKNOWN_MEMBER_ID: try every 2 s for up to 30 s before calling it another instance
GROUP_COMMIT_RETRY = RetryPolicy(attempts=None, first_s=2.0, max_s=2.0, within_s=30.0)


@dataclass(frozen=True)
class StartOptions:
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    history_ms: int = 3 * 86_400_000  # a 1x seasonal slot needs two days (min_periods)
    scope: Scope = field(default_factory=Scope)
    suppressions_topic: str = SUPPRESSIONS_TOPIC
    tick_ms: int = 5_000
    state_topic: str | None = None  # None: _anomaly_state.<the anomaly group>
    snapshot_interval_ms: int = DEFAULT_INTERVAL_MS  # 0: no snapshots, replay --history

    def state_topic_for(self, settings: Settings) -> str:
        return self.state_topic or state_topic_of(settings.anomaly_group)


@dataclass(frozen=True)
class WarmStart:
    replayed: int
    events: int
    published: int
    open: int
    seconds: float
    source: str = "history"  # or "snapshot <id>"

    def describe(self) -> str:
        return (
            f"warm start: replayed {self.replayed} records in {self.seconds:.1f}s, "
            f"{self.events} anomaly events found, {self.published} missing from "
            f"{ANOMALY} published, {self.open} open; state from {self.source}"
        )


def start(
    settings: Settings, options: StartOptions, clock: Clock = SYSTEM_CLOCK
) -> tuple[AnomalyService, SuppressionFollower, WarmStart]:
    started = clock.monotonic()
    replay_clock = ReplayClock(clock)
    detector = TrafficDetector(replay_clock, options.detector)
    follower = SuppressionFollower(settings.kafka_bootstrap, options.suppressions_topic)
    for change in follower.catch_up():
        apply_change(detector.suppressions, change)
    codec = OpsCodec(settings)
    service = AnomalyService(
        detector, replay_clock, codec, anomaly_metrics(), options.scope, options.tick_ms
    )
    source, since, history = _restored(settings, options, service, clock)
    events = service.replay(history.messages)
    service.positions = dict(history.ends)
    missing = _not_yet_published(settings, events, since)
    publish(settings, codec, missing)
    # the live app continues exactly where the replay stopped (the group has no member yet)
    commit_replayed(settings, history.ends, clock=clock)
    service.refresh_metrics(now_ms(clock))
    report = WarmStart(
        len(history.messages),
        len(events),
        len(missing),
        len(service.open),
        clock.monotonic() - started,
        source,
    )
    log.info("anomaly warm start", extra=report.__dict__)
    return service, follower, report


def commit_replayed(
    settings: Settings,
    ends: Offsets,
    *,
    clock: Clock = SYSTEM_CLOCK,
    policy: RetryPolicy = GROUP_COMMIT_RETRY,
) -> None:
    """Commit where the replay stopped for the anomaly group, waiting out a killed worker's
    session (blocking on purpose: the worker's event loop has not started yet)."""

    def retrying(attempt: int, delay: float, exc: Exception) -> None:
        log.info(
            "anomaly group offsets not set yet (a previous worker's session may still be open)",
            extra={"attempt": attempt, "delay_s": delay, "error": str(exc)},
        )

    try:
        retry_call(
            lambda: commit_offsets(settings, settings.anomaly_group, ends),
            policy,
            what=f"committing the replayed offsets of group {settings.anomaly_group}",
            transient=lambda exc: isinstance(exc, KafkaException),
            on_retry=retrying,
            clock=clock,
        )
    except RetriesExhaustedError as exc:
        raise GroupOffsetsError(settings.anomaly_group, exc.last) from exc.last


def _restored(
    settings: Settings, options: StartOptions, service: AnomalyService, clock: Clock
) -> tuple[str, int | None, History]:
    """The detector's state: the latest snapshot and the inputs after it, or the last
    ``history_ms`` of the inputs. Returns what it came from, since when ops.anomaly is
    compared, and the inputs to replay."""
    keep = _replay_filter(options.scope)
    # --history 0 is a cold start: no snapshot either
    if options.snapshot_interval_ms > 0 and options.history_ms > 0:
        try:
            topic = options.state_topic_for(settings)
            snapshot = SnapshotLog(settings.kafka_bootstrap, topic).read_latest()
            if snapshot is not None:
                restore(service, snapshot)
                history = read_from(settings, list(INPUT_TOPICS), snapshot.offsets, keep=keep)
                # events found after the snapshot may be unpublished; those before it were
                # delivered before it was taken
                after = snapshot.taken_ms - options.snapshot_interval_ms
                return f"snapshot {snapshot.snapshot_id[:8]}", after, history
        except SnapshotError as exc:
            log.warning("anomaly snapshot not used, replaying history", extra={"why": str(exc)})
            service.detector._connectors.clear()
            service.open.clear()
    since = now_ms(clock) - options.history_ms if options.history_ms > 0 else None
    history = read_since(settings, list(INPUT_TOPICS), since, keep=keep, clock=clock)
    return "history", since, history


def _replay_filter(scope: Scope) -> Callable[[str, bytes | None, int], bool]:
    last_heartbeat: dict[str, int] = {}

    def keep(topic: str, key: bytes | None, timestamp_ms: int) -> bool:
        connector = connector_of_key(key)
        if not scope.watches(connector):
            return False
        if topic != HEARTBEAT or connector is None:
            return True
        if timestamp_ms - last_heartbeat.get(connector, -(2**62)) < REPLAY_HEARTBEAT_EVERY_MS:
            return False
        last_heartbeat[connector] = timestamp_ms
        return True

    return keep


def _not_yet_published(
    settings: Settings, events: list[AnomalyEvent], since_ms: int | None
) -> list[AnomalyEvent]:
    if not events or since_ms is None:
        return []
    codec = OpsCodec(settings)
    published = {
        signature(codec.decode(m.value))
        for m in read_since(settings, [ANOMALY], since_ms).messages
        if m.value is not None
    }
    return [e for e in events if signature(e.to_record()) not in published]


def publish(settings: Settings, codec: OpsCodec, events: list[AnomalyEvent]) -> None:
    """Deliver events to ops.anomaly before returning (outside Faust: the warm start)."""
    if not events:
        return
    producer = Producer(
        {"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True, "acks": "all"}
    )
    errors: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    for event in events:
        key, value = codec.encode(event)
        producer.produce(ANOMALY, key=key, value=value, on_delivery=delivered)
    remaining = producer.flush(30)
    if remaining or errors:
        raise PublishError(
            f"{ANOMALY}: {remaining} of {len(events)} anomaly events undelivered "
            f"(errors: {errors[:3]}); check `streamhub stack status` and start again",
            topic=ANOMALY,
            undelivered=remaining + len(errors),
        )
