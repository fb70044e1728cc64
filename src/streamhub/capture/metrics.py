"""Prometheus metrics of the capture agent, labelled by connector (bounded), never by row."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

LABELS = ("connector", "institution", "system")


@dataclass(frozen=True)
class CaptureMetrics:
    events: Counter
    errors: Counter
    snapshot_rows: Counter
    snapshot_active: Gauge
    lag_bytes: Gauge
    lag_seconds: Gauge
    resnapshots: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> CaptureMetrics:
        return cls(
            events=Counter(
                "streamhub_capture_events_total",
                "Row changes read from the source log or snapshot, by operation.",
                (*LABELS, "op"),
                registry=registry,
            ),
            errors=Counter(
                "streamhub_capture_errors_total",
                "Dead letters and failures of a connector.",
                LABELS,
                registry=registry,
            ),
            snapshot_rows=Counter(
                "streamhub_capture_snapshot_rows_total",
                "Rows emitted by snapshot chunks.",
                LABELS,
                registry=registry,
            ),
            snapshot_active=Gauge(
                "streamhub_capture_snapshot_active",
                "1 while a connector still has tables to snapshot.",
                LABELS,
                registry=registry,
            ),
            lag_bytes=Gauge(
                "streamhub_capture_lag_bytes",
                "Source log bytes not yet confirmed (PostgreSQL) or behind (binlog).",
                LABELS,
                registry=registry,
            ),
            lag_seconds=Gauge(
                "streamhub_capture_lag_seconds",
                "Wall time since the commit of the last change read, while behind.",
                LABELS,
                registry=registry,
            ),
            resnapshots=Counter(
                "streamhub_capture_resnapshot_requests_total",
                "Targeted re-snapshot requests answered (outcome answered) or refused.",
                (*LABELS, "outcome"),
                registry=registry,
            ),
        )

    @classmethod
    def default(cls) -> CaptureMetrics:
        return _default()

    def observe_lag(
        self, labels: dict[str, str], lag_bytes: int | None, lag_ms: int | None
    ) -> None:
        if lag_bytes is not None:
            self.lag_bytes.labels(**labels).set(lag_bytes)
        if lag_ms is not None:
            self.lag_seconds.labels(**labels).set(lag_ms / 1000)


@cache
def _default() -> CaptureMetrics:
    return CaptureMetrics.create(REGISTRY)
