"""Prometheus metrics of the schema registry, built through :class:`MetricNamer`."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from streamhub.core.metrics import MetricNamer


@dataclass(frozen=True)
class RegistryMetrics:
    requests: Counter
    schemas: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> RegistryMetrics:
        namer = MetricNamer("registry", registry)
        return cls(
            requests=namer.counter(
                "requests_total",
                "Registry HTTP requests by route template and status code.",
                ("method", "route", "status"),
            ),
            schemas=namer.gauge("schemas", "Distinct schemas (ids) the registry holds."),
        )
