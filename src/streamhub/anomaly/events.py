"""What the detector emits: anomaly events shaped like ``ops/anomaly.avsc``.

One anomaly is a story told in events sharing an ``anomaly_id``: it opens with its kind
(SPIKE, DROP, SILENCE or STUCK), may be re-emitted when its kind or severity escalates,
and closes with a RECOVERED event that carries ``end_ms`` and ``recovered_kind``. The id is
derived from the feed, kind and start minute, so a restarted detector re-emits the same
ids and landing stays idempotent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

ANOMALY_NAMESPACE = uuid.UUID("8f0d7a52-6c1e-4c55-9a55-3b8f6a1c2d10")


class Kind(StrEnum):
    SPIKE = "SPIKE"  # far more events than the feed's baseline
    DROP = "DROP"  # far fewer, but some
    SILENCE = "SILENCE"  # outage: expected traffic, none at all from the connector
    STUCK = "STUCK"  # proposed: one feed silent while its connector's heartbeat and siblings flow
    RECOVERED = "RECOVERED"  # closes the anomaly named by anomaly_id


class Severity(StrEnum):
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True)
class FeedKey:
    """One feed; ``table`` is None for a connector-wide anomaly (a stale heartbeat)."""

    connector: str
    institution_id: str
    system: str
    table: str | None

    def anomaly_id(self, kind: Kind, start_ms: int) -> str:
        name = f"{self.connector}|{self.table or '*'}|{kind.value}|{start_ms}"
        return str(uuid.uuid5(ANOMALY_NAMESPACE, name))


@dataclass(frozen=True)
class AnomalyEvent:
    anomaly_id: str
    feed: FeedKey
    metric: str  # events_per_minute or heartbeat_age_ms
    kind: Kind
    severity: Severity
    observed: float
    expected: float
    lower: float
    upper: float
    score: float  # deviation in baseline standard deviations (or seconds late, for heartbeats)
    window_start_ms: int  # the minute (or heartbeat time) that triggered this event
    detected_ts_ms: int
    start_ms: int
    end_ms: int | None = None
    recovered_kind: Kind | None = None
    suppressed: bool = False  # acknowledged: keep for the console, do not page anyone
    suppression: str | None = None  # what suppressed it, e.g. "ack:zhang.wei"
    detail: str = ""

    def to_record(self) -> dict[str, Any]:
        """The ops.anomaly value: the committed schema's fields plus the proposed ones."""
        return {
            "anomaly_id": self.anomaly_id,
            "institution_id": self.feed.institution_id,
            "system": self.feed.system,
            "table": self.feed.table,
            "metric": self.metric,
            "kind": self.kind.value,
            "observed": float(self.observed),
            "expected": float(self.expected),
            "lower": float(self.lower),
            "upper": float(self.upper),
            "score": float(self.score),
            "window_start_ms": self.window_start_ms,
            "detected_ts_ms": self.detected_ts_ms,
            "connector": self.feed.connector,
            "severity": self.severity.value,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "recovered_kind": self.recovered_kind.value if self.recovered_kind else None,
            "suppressed": self.suppressed,
            "suppression": self.suppression,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class InstitutionAlert:
    """An institution's open anomalies as one alert: its worst severity and its feeds."""

    institution_id: str
    severity: Severity
    feeds: tuple[str, ...]  # "system table kind", sorted; table * for a connector-wide one
    anomaly_ids: tuple[str, ...]

    @classmethod
    def of(cls, institution_id: str, events: list[AnomalyEvent]) -> InstitutionAlert:
        critical = any(e.severity == Severity.CRITICAL for e in events)
        ordered = sorted(events, key=lambda e: (e.feed.system, e.feed.table or "*", e.kind))
        return cls(
            institution_id,
            Severity.CRITICAL if critical else Severity.WARNING,
            tuple(f"{e.feed.system} {e.feed.table or '*'} {e.kind.value}" for e in ordered),
            tuple(e.anomaly_id for e in ordered),
        )
