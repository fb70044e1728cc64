"""Prometheus metrics of the anomaly app, ``streamhub_anomaly_*``, built by the one namer.

Institutions are bounded by the connector set; kinds and severities are enums. Gauges
are recomputed from the open anomalies on every tick: label sets that emptied are set to
0 rather than removed, so a resolved alert reads 0 instead of vanishing mid-scrape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from streamhub.core.metrics import MetricNamer, process_wide


@dataclass(frozen=True)
class AnomalyMetrics:
    open: Gauge
    suppressed: Gauge
    events: Counter
    feeds: Gauge
    inputs: Counter
    _open_labels: set[tuple[str, str, str]] = field(default_factory=set)
    _suppressed_labels: set[str] = field(default_factory=set)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> AnomalyMetrics:
        namer = MetricNamer("anomaly", registry)
        return cls(
            open=namer.gauge(
                "open_count",
                "Open anomalies that are not suppressed (acknowledged or under maintenance).",
                ("institution", "kind", "severity"),
            ),
            suppressed=namer.gauge(
                "suppressed_count",
                "Open anomalies that are acknowledged or inside a maintenance window.",
                ("institution",),
            ),
            events=namer.counter(
                "events_total",
                "Anomaly events published (openings, escalations, suppression changes and "
                "RECOVERED closings), by kind.",
                ("institution", "kind"),
            ),
            feeds=namer.gauge(
                "feeds_count",
                "Feeds (institution × system × table) the detector has a baseline for.",
            ),
            inputs=namer.counter(
                "inputs_total",
                "Input records by topic and outcome: accepted, late (its minute was already "
                "judged), skipped (a connector not watched) or invalid.",
                ("topic", "outcome"),
            ),
        )

    def set_open(
        self, opened: dict[tuple[str, str, str], int], suppressed: dict[str, int], feeds: int
    ) -> None:
        for labels in self._open_labels - opened.keys():
            self.open.labels(*labels).set(0)
        for labels, count in opened.items():
            self.open.labels(*labels).set(count)
        self._open_labels.update(opened.keys())
        for institution in self._suppressed_labels - suppressed.keys():
            self.suppressed.labels(institution).set(0)
        for institution, count in suppressed.items():
            self.suppressed.labels(institution).set(count)
        self._suppressed_labels.update(suppressed.keys())
        self.feeds.set(feeds)


@process_wide
def anomaly_metrics() -> AnomalyMetrics:
    """One set per process, in the default registry that `--metrics-port` serves."""
    return AnomalyMetrics.create(REGISTRY)
