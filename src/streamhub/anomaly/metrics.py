"""Prometheus metrics of the anomaly app (names fixed by the operator-plane contract).

Institutions are bounded by the connector set; kinds and severities are enums. Gauges
are recomputed from the open anomalies on every tick: label sets that emptied are set to
0 rather than removed, so a resolved alert reads 0 instead of vanishing mid-scrape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge


@dataclass
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
        return cls(
            open=Gauge(
                "streamhub_anomaly_open",
                "Open anomalies that are not suppressed (acknowledged or under maintenance).",
                ("institution", "kind", "severity"),
                registry=registry,
            ),
            suppressed=Gauge(
                "streamhub_anomaly_suppressed",
                "Open anomalies that are acknowledged or inside a maintenance window.",
                ("institution",),
                registry=registry,
            ),
            events=Counter(
                "streamhub_anomaly_events_total",
                "Anomaly events published (openings, escalations, suppression changes and "
                "RECOVERED closings), by kind.",
                ("institution", "kind"),
                registry=registry,
            ),
            feeds=Gauge(
                "streamhub_anomaly_feeds",
                "Feeds (institution × system × table) the detector has a baseline for.",
                registry=registry,
            ),
            inputs=Counter(
                "streamhub_anomaly_inputs_total",
                "Input records by topic and outcome: accepted, late (its minute was already "
                "judged), skipped (a connector not watched) or invalid.",
                ("topic", "outcome"),
                registry=registry,
            ),
        )

    def set_open(
        self, opened: dict[tuple[str, str, str], int], suppressed: dict[str, int], feeds: int
    ) -> None:
        for labels in self._open_labels - opened.keys():
            self.open.labels(*labels).set(0)
        for labels, count in opened.items():
            self.open.labels(*labels).set(count)
        self._open_labels |= opened.keys()
        for institution in self._suppressed_labels - suppressed.keys():
            self.suppressed.labels(institution).set(0)
        for institution, count in suppressed.items():
            self.suppressed.labels(institution).set(count)
        self._suppressed_labels |= suppressed.keys()
        self.feeds.set(feeds)


@cache
def anomaly_metrics() -> AnomalyMetrics:
    """One set per process, in the default registry that `--metrics-port` serves."""
    return AnomalyMetrics.create(REGISTRY)
