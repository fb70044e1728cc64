"""Prometheus metrics of the anomaly app, ``streamhub_anomaly_*``, built by the one namer.

Institutions are bounded by the connector set; kinds and severities are enums. Gauges
are recomputed from the open anomalies on every tick: label sets that emptied are set to
0 rather than removed, so a resolved alert reads 0 instead of vanishing mid-scrape.

Alerts roll up per institution: ``institution_open_feeds_count`` holds, per institution, how
many of its feeds have an open unsuppressed anomaly, labelled with the worst severity
among them (one series per institution at a time, so one alert per institution however
many feeds). ``feed_open_state`` names those feeds (system, table, kind) for the alert's text
and drill-down; its series are removed when the feed's anomaly closes, so a region's tens
of thousands of feeds leave only the open ones behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from streamhub.core.metrics import MetricNamer, process_wide


@dataclass
class AnomalyMetrics:
    open: Gauge
    suppressed: Gauge
    events: Counter
    feeds: Gauge
    inputs: Counter
    institution_open_feeds: Gauge
    feed_open: Gauge
    _open_labels: set[tuple[str, str, str]] = field(default_factory=set)
    _suppressed_labels: set[str] = field(default_factory=set)
    _institution_labels: set[tuple[str, str]] = field(default_factory=set)
    _feed_labels: set[tuple[str, str, str, str, str]] = field(default_factory=set)

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
            institution_open_feeds=namer.gauge(
                "institution_open_feeds_count",
                "Feeds of the institution with an open unsuppressed anomaly, labelled with "
                "the worst severity among them (one alert per institution).",
                ("institution", "severity"),
            ),
            feed_open=namer.gauge(
                "feed_open_state",
                "1 for each feed with an open unsuppressed anomaly (table * for a "
                "connector-wide one); removed when it closes.",
                ("institution", "system", "table", "kind", "severity"),
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

    def set_feeds(self, open_feeds: set[tuple[str, str, str, str, str]]) -> None:
        """The open unsuppressed feeds (institution, system, table, kind, severity), and
        their roll-up per institution."""
        for labels in self._feed_labels - open_feeds:
            self.feed_open.remove(*labels)
        for labels in open_feeds - self._feed_labels:
            self.feed_open.labels(*labels).set(1)
        self._feed_labels = set(open_feeds)
        counts: dict[str, int] = {}
        worst: dict[str, str] = {}
        for institution, _, _, _, severity in open_feeds:
            counts[institution] = counts.get(institution, 0) + 1
            if worst.get(institution) != "CRITICAL":
                worst[institution] = severity
        rolled = {(institution, worst[institution]): n for institution, n in counts.items()}
        for pair in self._institution_labels - rolled.keys():
            self.institution_open_feeds.labels(*pair).set(0)
        for pair, count in rolled.items():
            self.institution_open_feeds.labels(*pair).set(count)
        self._institution_labels.update(rolled.keys())


@process_wide
def anomaly_metrics() -> AnomalyMetrics:
    """One set per process, in the default registry that `--metrics-port` serves."""
    return AnomalyMetrics.create(REGISTRY)
