"""Turns ops.source_counts and ops.heartbeat into traffic anomalies (ops.anomaly).

A minute with no changes emits no counts record, so absence means zero only once the
connector has provably read past that minute. The heartbeat says how far: when the agent
is idle (``lag_ms == 0``) it has read everything up to ``emitted_ts_ms``; when busy, up to
the commit time of its last event. A minute is judged, for every feed of the connector
at once, when that horizon is past its end plus the agent's own window grace and a settle
allowance for the two topics arriving out of step. While the connector is not streaming
(snapshotting, paused) minutes wait, since their changes are still to be read. An idle
connector emits the minute of its last events once that minute has passed (its horizon is
now), so an outage's first, partial minute arrives with its counts like any other.

Kinds: SILENCE (outage) when a feed expecting traffic has none and neither has any other
feed of its connector, or when the connector's heartbeat is stale or ``failed`` (then one
connector-wide anomaly, ``table`` None, metric ``heartbeat_age_ms``); STUCK when one feed
is silent while its connector's heartbeat and other feeds flow; DROP and SPIKE against
the baseline (see :mod:`.judge`). Time comes from an injected clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from streamhub.anomaly.baseline import MINUTE_MS, BaselineConfig
from streamhub.anomaly.errors import InvalidRecordError
from streamhub.anomaly.events import AnomalyEvent, FeedKey, Kind, Severity
from streamhub.anomaly.judge import FeedJudge, JudgeConfig
from streamhub.anomaly.suppression import Suppressions
from streamhub.core.clock import Clock, now_ms


class DetectorConfig(BaseModel):
    """The traffic detector's settings: its baseline, its judge, and when minutes are judged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline: BaselineConfig = Field(
        default_factory=BaselineConfig, description="How each feed learns its traffic."
    )
    judge: JudgeConfig = Field(
        default_factory=JudgeConfig, description="When a feed's minutes make an anomaly."
    )
    agent_grace_ms: int = Field(
        5_000, ge=0, description="The capture agent's window grace (capture/counts.py)."
    )
    settle_ms: int = Field(
        10_000,
        ge=0,
        description="Allowance for counts and heartbeats arriving out of step (two topics).",
    )
    stale_after_ms: int = Field(
        60_000,
        gt=0,
        description="A connector without a heartbeat this long is down (they come every few "
        "seconds).",
    )
    max_catchup_minutes: int = Field(
        24 * 60, ge=1, description="After a longer gap, only the last this many minutes are judged."
    )


@dataclass
class _Connector:
    name: str
    institution_id: str
    system: str
    feeds: dict[str, FeedJudge] = field(default_factory=dict)
    pending: dict[tuple[str, int], int] = field(default_factory=dict)
    next_minute: int | None = None
    horizon_ms: int = 0
    heard_at_ms: int | None = None  # detector clock at the last heartbeat
    blind_until_ms: int = 0  # minutes before this fell in a stale spell: not judged
    failed: bool = False
    stale: AnomalyEvent | None = None  # the open connector-wide anomaly

    @property
    def key(self) -> FeedKey:
        return FeedKey(self.name, self.institution_id, self.system, None)


class TrafficDetector:
    """Per-feed traffic judge; call ``on_counts``, ``on_heartbeat`` and ``tick`` (every few s)."""

    def __init__(
        self,
        clock: Clock,
        config: DetectorConfig | None = None,
        suppressions: Suppressions | None = None,
    ) -> None:
        self.clock = clock
        self.config = config or DetectorConfig()
        self.suppressions = suppressions or Suppressions()
        self.late_records = 0  # counts for minutes already judged (a metric for the agent)
        self._connectors: dict[str, _Connector] = {}

    def on_counts(self, record: Mapping[str, Any]) -> list[AnomalyEvent]:
        """Buffer one ops.source_counts value; minutes are judged when heartbeats pass them."""
        if record.get("row_count_position") is not None:
            return []  # a periodic row-count reading, not a minute's traffic: zeros, not silence
        conn = self._connector(record)
        table = f"{_field(record, 'database')}.{_field(record, 'table')}"
        minute = int(_field(record, "window_start_ms"))
        if table not in conn.feeds:
            key = FeedKey(conn.name, conn.institution_id, conn.system, table)
            conn.feeds[table] = FeedJudge.new(key, self.config.judge, self.config.baseline)
        if conn.next_minute is not None and minute < conn.next_minute:
            self.late_records += 1
            return []
        events = sum(int(_field(record, name)) for name in ("inserts", "updates", "deletes"))
        conn.pending[(table, minute)] = events  # a re-emitted window carries the full total
        return []

    def on_heartbeat(self, record: Mapping[str, Any]) -> list[AnomalyEvent]:
        """Note the connector's pulse and judge every minute it has now read past."""
        conn = self._connector(record)
        now = now_ms(self.clock)
        conn.heard_at_ms = now
        state = str(_field(record, "state"))
        conn.failed = state == "failed"
        out = self._check_pulse(conn, now)
        horizon = _horizon(record)
        if state == "streaming" and horizon is not None:
            conn.horizon_ms = max(conn.horizon_ms, horizon)
            out += self._judge_complete_minutes(conn, now)
        return out

    def tick(self) -> list[AnomalyEvent]:
        """Check heartbeat staleness; call on a timer, as no record arrives from a dead agent."""
        now = now_ms(self.clock)
        # keep ended windows while minutes they cover may still be judged (catch-up)
        self.suppressions.prune(now - self.config.max_catchup_minutes * MINUTE_MS)
        return [e for conn in self._connectors.values() for e in self._check_pulse(conn, now)]

    @property
    def feed_count(self) -> int:
        """Feeds (institution × system × table) the detector has seen."""
        return sum(len(c.feeds) for c in self._connectors.values())

    def open_anomalies(self) -> list[str]:
        """Ids of the anomalies open now (for the ops console and tests)."""
        ids = [c.stale.anomaly_id for c in self._connectors.values() if c.stale]
        return ids + [
            f.open.anomaly_id
            for c in self._connectors.values()
            for f in c.feeds.values()
            if f.open is not None
        ]

    # --- heartbeats -------------------------------------------------------------------------

    def _check_pulse(self, conn: _Connector, now: int) -> list[AnomalyEvent]:
        if conn.heard_at_ms is None:
            return []  # never heard of: nothing to expect yet (cold start)
        age = now - conn.heard_at_ms
        down = conn.failed or age > self.config.stale_after_ms
        if down and conn.stale is None:
            if self.suppressions.maintenance(conn.key, now) is not None:
                return []
            conn.stale = self._pulse_event(conn, now, age, Kind.SILENCE, start=conn.heard_at_ms)
            return [conn.stale]
        if not down and conn.stale is not None:
            opened = conn.stale
            conn.stale = None
            # the stale anomaly covered those minutes; their counts come late, as the agent
            # re-reads its log, so judging them now would call the catch-up an outage
            conn.blind_until_ms = now
            self.suppressions.closed(opened.anomaly_id)
            return [self._pulse_event(conn, now, age, Kind.RECOVERED, opened.start_ms, opened)]
        return []

    def _pulse_event(
        self,
        conn: _Connector,
        now: int,
        age: int,
        kind: Kind,
        start: int,
        opened: AnomalyEvent | None = None,
    ) -> AnomalyEvent:
        closing = opened is not None
        return AnomalyEvent(
            anomaly_id=opened.anomaly_id if opened else conn.key.anomaly_id(kind, start),
            feed=conn.key,
            metric="heartbeat_age_ms",
            kind=kind,
            severity=Severity.CRITICAL,
            observed=age,
            expected=0.0,
            lower=0.0,
            upper=self.config.stale_after_ms,
            score=age / 1000,
            window_start_ms=start,
            detected_ts_ms=now,
            start_ms=start,
            end_ms=now if closing else None,
            recovered_kind=Kind.SILENCE if closing else None,
            detail="connector reports failed" if conn.failed else f"no heartbeat for {age} ms",
        )

    # --- minutes ----------------------------------------------------------------------------

    def _judge_complete_minutes(self, conn: _Connector, now: int) -> list[AnomalyEvent]:
        cfg = self.config
        limit = conn.horizon_ms - cfg.agent_grace_ms - cfg.settle_ms
        first_open = limit - limit % MINUTE_MS  # the minute still being written
        if conn.next_minute is None:
            conn.next_minute = min([m for _, m in conn.pending] + [first_open])
        oldest = first_open - cfg.max_catchup_minutes * MINUTE_MS
        if conn.next_minute < oldest:
            conn.next_minute = oldest
            conn.pending = {k: v for k, v in conn.pending.items() if k[1] >= oldest}
        out: list[AnomalyEvent] = []
        while conn.next_minute + MINUTE_MS <= limit:
            out += self._judge_minute(conn, conn.next_minute, now)
            conn.next_minute += MINUTE_MS
        return out

    def _judge_minute(self, conn: _Connector, minute: int, now: int) -> list[AnomalyEvent]:
        observed = {t: conn.pending.pop((t, minute), 0) for t in conn.feeds}
        active = any(observed.values())
        out: list[AnomalyEvent] = []
        for table, judge in conn.feeds.items():
            blind = minute < conn.blind_until_ms
            if blind or self.suppressions.maintenance(judge.key, minute) is not None:
                judge.reset()  # neither judged nor learned: abnormal on purpose
                continue
            event = judge.judge(minute, observed[table], active, now)
            if event is not None:
                out.append(self._apply_ack(event, now))
        return out

    def _apply_ack(self, event: AnomalyEvent, now: int) -> AnomalyEvent:
        if event.kind == Kind.RECOVERED:
            self.suppressions.closed(event.anomaly_id)
            return event  # never suppressed: the alert must resolve
        ack = self.suppressions.acknowledged(event.anomaly_id, now)
        if ack is None:
            return event
        return replace(event, suppressed=True, suppression=f"ack:{ack.by}")

    def _connector(self, record: Mapping[str, Any]) -> _Connector:
        name = str(_field(record, "connector"))
        conn = self._connectors.get(name)
        if conn is None:
            conn = _Connector(
                name, str(_field(record, "institution_id")), str(_field(record, "system"))
            )
            self._connectors[name] = conn
        return conn


def _horizon(record: Mapping[str, Any]) -> int | None:
    """Commit time up to which the agent has read its log, or None when unknown."""
    emitted = int(_field(record, "emitted_ts_ms"))
    lag_ms = record.get("lag_ms")
    if lag_ms is not None:
        return emitted - int(lag_ms)  # 0 when idle: read everything up to now
    # nothing read since the agent started: caught up only if the log has nothing unread
    return emitted if record.get("lag_bytes") in (0, None) else None


def _field(record: Mapping[str, Any], name: str) -> Any:
    try:
        return record[name]
    except KeyError as exc:
        raise InvalidRecordError(str(record.get("connector", "?")), name) from exc
