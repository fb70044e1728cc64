"""Prometheus metrics of the capture agent, labelled by connector (bounded), never by row."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from streamhub.core.metrics import MetricNamer, process_wide

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
        namer = MetricNamer("capture", registry)
        return cls(
            events=namer.counter(
                "events_total",
                "Row changes read from the source log or snapshot, by operation.",
                (*LABELS, "op"),
            ),
            errors=namer.counter(
                "errors_total", "Dead letters and failures of a connector.", LABELS
            ),
            snapshot_rows=namer.counter(
                "snapshot_rows_total", "Rows emitted by snapshot chunks.", LABELS
            ),
            snapshot_active=namer.gauge(
                "snapshot_active_state",
                "1 while a connector still has tables to snapshot, else 0.",
                LABELS,
            ),
            lag_bytes=namer.gauge(
                "lag_bytes",
                "Source log bytes not yet confirmed (PostgreSQL) or behind (binlog).",
                LABELS,
            ),
            lag_seconds=namer.gauge(
                "lag_seconds",
                "Wall time since the commit of the last change read, while behind.",
                LABELS,
            ),
            resnapshots=namer.counter(
                "resnapshot_requests_total",
                "Targeted re-snapshot requests answered (outcome answered) or refused.",
                (*LABELS, "outcome"),
            ),
        )

    def observe_lag(
        self, labels: dict[str, str], lag_bytes: int | None, lag_ms: int | None
    ) -> None:
        if lag_bytes is not None:
            self.lag_bytes.labels(**labels).set(lag_bytes)
        if lag_ms is not None:
            self.lag_seconds.labels(**labels).set(lag_ms / 1000)


@process_wide
def capture_metrics() -> CaptureMetrics:
    """One set per process, in the default registry that `--metrics-port` serves."""
    return CaptureMetrics.create(REGISTRY)
