"""Prometheus metrics of the lander, in the default registry; labels are bounded (target
names: the entities and ops tables, error kinds), never an institution's record."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram


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
        return cls(
            rows=Counter(
                "streamhub_land_rows_total",
                "Rows inserted into ClickHouse, by target.",
                ("entity",),
                registry=registry,
            ),
            batches=Counter(
                "streamhub_land_batches_total",
                "Flushes that inserted and committed a batch.",
                registry=registry,
            ),
            errors=Counter(
                "streamhub_land_errors_total",
                "Dead letters, retried transient failures and fatal stops, by kind.",
                ("kind",),
                registry=registry,
            ),
            commit_to_queryable=Histogram(
                "streamhub_land_commit_to_queryable_seconds",
                "Source commit time to the row being queryable in ClickHouse (std entities).",
                ("entity",),
                buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600),
                registry=registry,
            ),
            # institutions are bounded by the connector set (hundreds to thousands), as in capture
            records=Counter(
                "streamhub_land_records_total",
                "Standard records landed, by institution (replays count again).",
                ("institution",),
                registry=registry,
            ),
            newest_commit=Gauge(
                "streamhub_land_last_commit_timestamp_seconds",
                "Source commit time of the newest record landed per institution: freshness is "
                "now minus this.",
                ("institution",),
                registry=registry,
            ),
        )


@cache
def land_metrics() -> LandMetrics:
    """One set per process, shared by every Lander in it (tests run several)."""
    return LandMetrics.create(REGISTRY)
