"""The anomaly app minus its transport: records in, anomaly events out, metrics kept.

Warm start: a snapshot of the state, then a bounded replay. Every ``--snapshot-interval``
(10 min) the app writes the detector's whole state (every feed's baseline, judge and
pending minutes, the connectors' pulse, the open anomalies) with the input offsets it has
taken, to a compacted topic (:mod:`.state`, :mod:`.snapshot_log`); a start restores the
latest and replays only the inputs after those offsets, through the same detector with the
clock set to each record's timestamp. A restored detector judges exactly as the one it was
taken from (tests/unit/anomaly/test_state.py holds them side by side), so this equals a
replay of the whole history, at a bounded cost: at 1,751 institutions (54,192 feeds) the
old replay of 3 days of inputs was ~250 million records, nearly two hours of CPU and
~56 GB of messages in memory; the snapshot is ~57 MB and restores in seconds, and the tail
is at most one interval of inputs (bench/anomaly_scale.py). A bounded horizon alone would
not do: the seasonal baseline needs days of a feed's history (two periods to be trusted,
seven kept), which is what made the replay unbounded in the first place.

Without a usable snapshot (the first start, one taken under other detector settings or
another ``--connectors`` scope, an unreadable one) the start replays the last ``--history``
of the inputs as before (both are retained on Kafka: ops.source_counts 30 days,
ops.heartbeat 7), which also makes a changed baseline rule apply to history at once.
``--history 0`` is a cold start: neither. Events the replay finds are published only if
ops.anomaly lacks them (same id, kind, severity and open/closed), so a restart neither
repeats alerts nor loses those that fell in the gap while the app was down; a snapshot is
taken only when every event it implies has been delivered (:mod:`.app`).

Alerts roll up per institution (:meth:`AnomalyService.institutions`, the
``institution_open_feeds_count`` gauge); the per-feed events on ops.anomaly stay for
drill-down.

Only one instance may run per group: a feed's counts and its connector's heartbeats are
keyed differently, so two members would each see half of what judging a minute needs.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from streamhub.anomaly.codec import connector_of_key
from streamhub.anomaly.detector import TrafficDetector
from streamhub.anomaly.errors import AnomalyError
from streamhub.anomaly.events import AnomalyEvent, InstitutionAlert, Kind, Severity
from streamhub.anomaly.metrics import AnomalyMetrics
from streamhub.anomaly.suppression_log import Change, apply_change
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.core.topic_names import HEARTBEAT, SOURCE_COUNTS
from streamhub.kafka.reading import Message, Offsets
from streamhub.serde.errors import RegistryUnavailableError, SerdeError
from streamhub.serde.wire import MessageRef

log = logging.getLogger(__name__)


class RecordCodec(Protocol):
    """Decodes input values and encodes events (:class:`~streamhub.anomaly.codec.OpsCodec`)."""

    def decode(self, value: bytes, where: MessageRef | None = None) -> dict[str, Any]: ...

    def encode(self, event: AnomalyEvent) -> tuple[bytes, bytes]: ...


class ReplayClock:
    """The detector's clock: pinned to a record's timestamp while replaying (``fixed_ms``),
    ``base`` otherwise (the system clock live, a manual clock in tests)."""

    def __init__(self, base: Clock = SYSTEM_CLOCK) -> None:
        self.base = base
        self.fixed_ms: int | None = None

    def time(self) -> float:
        return self.fixed_ms / 1000 if self.fixed_ms is not None else self.base.time()

    def monotonic(self) -> float:
        return self.base.monotonic()

    def sleep(self, seconds: float) -> None:
        self.base.sleep(seconds)


@dataclass(frozen=True)
class Scope:
    """Connectors to watch, as shell patterns on their names; empty watches all."""

    patterns: tuple[str, ...] = ()

    def watches(self, connector: str | None) -> bool:
        if not self.patterns:
            return True
        return connector is not None and any(
            fnmatch.fnmatchcase(connector, p) for p in self.patterns
        )


Signature = tuple[str, str, str, bool]


def signature(record: dict[str, Any]) -> Signature:
    """What makes an anomaly event news: its id, kind, severity and whether it closed."""
    return (
        str(record["anomaly_id"]),
        str(record["kind"]),
        str(record.get("severity")),
        record.get("end_ms") is not None,
    )


class AnomalyService:
    def __init__(
        self,
        detector: TrafficDetector,
        clock: ReplayClock,
        codec: RecordCodec,
        metrics: AnomalyMetrics,
        scope: Scope | None = None,
        tick_ms: int = 5_000,
    ) -> None:
        self.detector = detector
        self.clock = clock
        self.codec = codec
        self.metrics = metrics
        self.scope = scope or Scope()
        self.tick_ms = tick_ms
        self.open: dict[str, AnomalyEvent] = {}  # latest event of every open anomaly
        # next offset of every input partition whose messages the detector has taken
        self.positions: Offsets = {}

    # --- input ------------------------------------------------------------------------------

    def on_message(
        self, topic: str, key: bytes | None, value: bytes | None, where: MessageRef | None = None
    ) -> list[AnomalyEvent]:
        """One ops.source_counts or ops.heartbeat message; the events it causes."""
        if where is not None and where.topic is not None and where.offset is not None:
            self.positions[(where.topic, where.partition or 0)] = where.offset + 1
        if value is None or not self.scope.watches(connector_of_key(key)):
            self.metrics.inputs.labels(topic, "skipped").inc()
            return []
        try:
            record = self.codec.decode(value, where)
            if not self.scope.watches(str(record.get("connector"))):
                self.metrics.inputs.labels(topic, "skipped").inc()
                return []
            if topic == SOURCE_COUNTS:
                late = self.detector.late_records
                events = self.detector.on_counts(record)
                outcome = "late" if self.detector.late_records > late else "accepted"
            elif topic == HEARTBEAT:
                events, outcome = self.detector.on_heartbeat(record), "accepted"
            else:
                return []
        except RegistryUnavailableError:
            raise  # not the record's fault: skipping it would read as a silent minute
        except (AnomalyError, SerdeError) as exc:
            self.metrics.inputs.labels(topic, "invalid").inc()
            log.warning("anomaly input skipped", extra={"topic": topic, "error": str(exc)})
            return []
        self.metrics.inputs.labels(topic, outcome).inc()
        return self._observe(events)

    def tick(self, changes: Iterable[Change] = ()) -> list[AnomalyEvent]:
        """Apply new suppressions, check heartbeats, and re-emit open anomalies whose
        suppression changed (acknowledged, expired, entered or left maintenance)."""
        for change in changes:
            apply_change(self.detector.suppressions, change)
            log.info("suppression received", extra={"change": repr(change)})
        events = self._observe(self.detector.tick())
        now = now_ms(self.clock)
        for anomaly_id, latest in list(self.open.items()):
            suppression = self.suppression_of(latest, now)
            if suppression != latest.suppression:
                event = replace(
                    latest,
                    suppressed=suppression is not None,
                    suppression=suppression,
                    detected_ts_ms=now,
                )
                events += self._observe([event])
                log.info(
                    "anomaly suppression changed",
                    extra={
                        "anomaly_id": anomaly_id,
                        "institution": latest.feed.institution_id,
                        "table": latest.feed.table,
                        "suppression": suppression,
                    },
                )
        self.refresh_metrics(now)
        return events

    def suppression_of(self, event: AnomalyEvent, now_ms: int) -> str | None:
        suppressions = self.detector.suppressions
        ack = suppressions.acknowledged(event.anomaly_id, now_ms)
        if ack is not None:
            return f"ack:{ack.by}"
        window = suppressions.maintenance(event.feed, now_ms)
        return f"maintenance:{window.window_id}" if window is not None else None

    # --- warm start -------------------------------------------------------------------------

    def replay(self, messages: list[Message]) -> list[AnomalyEvent]:
        """Feed history through the detector in timestamp order, ticking on record time."""
        events: list[AnomalyEvent] = []
        next_tick: int | None = None
        for message in sorted(messages, key=lambda m: (m.timestamp_ms, m.topic, m.offset)):
            self.clock.fixed_ms = message.timestamp_ms
            if next_tick is None or message.timestamp_ms >= next_tick:
                events += self.tick()
                next_tick = message.timestamp_ms + self.tick_ms
            events += self.on_message(message.topic, message.key, message.value)
        self.clock.fixed_ms = None
        return events

    # --- bookkeeping ------------------------------------------------------------------------

    def _observe(self, events: list[AnomalyEvent]) -> list[AnomalyEvent]:
        for event in events:
            self.metrics.events.labels(event.feed.institution_id, event.kind.value).inc()
            if event.kind == Kind.RECOVERED:
                self.open.pop(event.anomaly_id, None)
            else:
                self.open[event.anomaly_id] = event
            log.info(
                "anomaly event",
                extra={
                    "anomaly_id": event.anomaly_id,
                    "institution": event.feed.institution_id,
                    "system": event.feed.system,
                    "table": event.feed.table,
                    "kind": event.kind.value,
                    "severity": event.severity.value,
                    "observed": event.observed,
                    "expected": round(event.expected, 1),
                    "suppressed": event.suppressed,
                },
            )
        return events

    def refresh_metrics(self, now_ms: int) -> None:
        opened: dict[tuple[str, str, str], int] = {}
        suppressed: dict[str, int] = {}
        feeds: set[tuple[str, str, str, str, str]] = set()
        for event in self.open.values():
            institution = event.feed.institution_id
            if self.suppression_of(event, now_ms) is not None:
                suppressed[institution] = suppressed.get(institution, 0) + 1
            else:
                labels = (institution, event.kind.value, event.severity.value)
                opened[labels] = opened.get(labels, 0) + 1
                feed = event.feed
                feeds.add((*labels[:1], feed.system, feed.table or "*", *labels[1:]))
        self.metrics.set_open(opened, suppressed, self.detector.feed_count)
        self.metrics.set_feeds(feeds)

    def institutions(self, now_ms: int) -> list[InstitutionAlert]:
        """The open unsuppressed anomalies rolled up per institution, worst first."""
        grouped: dict[str, list[AnomalyEvent]] = {}
        for event in self.open.values():
            if self.suppression_of(event, now_ms) is None:
                grouped.setdefault(event.feed.institution_id, []).append(event)
        alerts = [InstitutionAlert.of(i, events) for i, events in grouped.items()]
        return sorted(
            alerts, key=lambda a: (a.severity != Severity.CRITICAL, -len(a.feeds), a.institution_id)
        )
