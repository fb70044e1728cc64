"""The registry's metrics are built through the namer, in the registry they are given."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from streamhub.registry.metrics import RegistryMetrics


def test_names_and_labels_are_kept() -> None:
    registry = CollectorRegistry()
    metrics = RegistryMetrics.create(registry)
    metrics.requests.labels("GET", "/subjects", "200").inc()
    metrics.schemas.set(3)
    text = generate_latest(registry).decode()
    sample = 'streamhub_registry_requests_total{method="GET",route="/subjects",status="200"} 1.0'
    assert sample in text
    assert "streamhub_registry_schemas 3.0" in text


def test_each_registry_gets_its_own_set() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    RegistryMetrics.create(first).schemas.set(1)
    RegistryMetrics.create(second)  # no duplicate: nothing lives in a module global
    assert "streamhub_registry_schemas 1.0" in generate_latest(first).decode()
    assert "streamhub_registry_schemas 0.0" in generate_latest(second).decode()
