"""Prometheus metrics of the standardizer: its records (the pipeline) and its batches (the
Faust app), built through :class:`~streamhub.core.metrics.MetricNamer`."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from streamhub.core.metrics import MetricNamer, process_wide

BATCH_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class StandardizeMetrics:
    records: Counter
    batches: Counter
    messages: Counter
    batch_seconds: Histogram
    batch_retries: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> StandardizeMetrics:
        metric = MetricNamer("standardize", registry)
        return cls(
            records=metric.counter(
                "records_total",
                "Change envelopes by outcome: standardized, flagged (standardized with quality "
                "issues) or dead_letter; institution is bounded by the connector set.",
                ("institution", "entity", "outcome"),
            ),
            batches=metric.counter("batches_total", "Batches standardized and sent."),
            messages=metric.counter(
                "messages_total",
                "Messages consumed (direction=in, by source topic) and sent (direction=out, "
                "by topic).",
                ("topic", "direction"),
            ),
            batch_seconds=metric.histogram(
                "batch_seconds",
                "Time from taking a batch to the delivery of all its outputs.",
                BATCH_SECONDS_BUCKETS,
            ),
            batch_retries=metric.counter(
                "batch_retries_total", "Batches retried after process() or send failed."
            ),
        )


@process_wide
def standardize_metrics() -> StandardizeMetrics:
    """One set per process, in the default registry that `--metrics-port` serves."""
    return StandardizeMetrics.create(REGISTRY)
