"""Prometheus metrics of the standardizer's records (the Faust app adds batch metrics)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter


@dataclass(frozen=True)
class StandardizeRecordMetrics:
    records: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> StandardizeRecordMetrics:
        return cls(
            records=Counter(
                "streamhub_standardize_records_total",
                "Change envelopes by outcome: standardized, flagged (standardized with quality "
                "issues) or dead_letter; institution is bounded by the connector set.",
                ("institution", "entity", "outcome"),
                registry=registry,
            )
        )


STANDARDIZE_METRICS = StandardizeRecordMetrics.create(REGISTRY)
