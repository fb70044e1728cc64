"""Prometheus metrics of the lander (``streamhub_land_*``); labels are bounded (target
names: the entities and ops tables, error kinds, institutions), never an institution's record."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from streamhub.core.metrics import MetricNamer, process_wide

COMMIT_TO_QUERYABLE_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600)


@dataclass(frozen=True)
class LandMetrics:
    rows: Counter
    batches: Counter
    errors: Counter
    commit_to_queryable: Histogram
    records: Counter
    newest_commit: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> LandMetrics:
        m = MetricNamer("land", registry)
        return cls(
            rows=m.counter("rows_total", "Rows inserted into ClickHouse, by target.", ("entity",)),
            batches=m.counter("batches_total", "Flushes that inserted and committed a batch."),
            errors=m.counter(
                "errors_total",
                "Dead letters, retried transient failures and fatal stops, by kind.",
                ("kind",),
            ),
            commit_to_queryable=m.histogram(
                "commit_to_queryable_seconds",
                "Source commit time to the row being queryable in ClickHouse (std entities).",
                COMMIT_TO_QUERYABLE_BUCKETS,
                ("entity",),
            ),
            # institutions are bounded by the connector set (hundreds to thousands), as in capture
            records=m.counter(
                "records_total",
                "Standard records landed, by institution (replays count again).",
                ("institution",),
            ),
            newest_commit=m.gauge(
                "last_commit_timestamp_seconds",
                "Source commit time of the newest record landed per institution: freshness is "
                "now minus this.",
                ("institution",),
            ),
        )


@process_wide
def land_metrics() -> LandMetrics:
    """One set per process, in the default registry, shared by every Lander in it."""
    return LandMetrics.create(REGISTRY)


def observe_all(histogram: Histogram, amounts: Sequence[float]) -> None:
    """Observe every amount: the same buckets, count and sum as one ``observe`` per amount,
    with one increment per bucket touched (a flush lands thousands of rows)."""
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None:  # not a labelled child we know
        for amount in amounts:
            histogram.observe(amount)
        return
    if not amounts:
        return
    total.inc(sum(amounts))
    # observe() counts an amount in the first bucket whose upper bound is >= it (+Inf last)
    for index, count in Tally(bisect_left(bounds, amount) for amount in amounts).items():
        buckets[index].inc(count)
