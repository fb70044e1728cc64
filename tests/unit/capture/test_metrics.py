"""Capture's metrics: streamhub_capture_<what>_<unit>, labelled by connector, never by row."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streamhub.capture.metrics import CaptureMetrics


def test_the_capture_metrics_names_and_labels() -> None:
    registry = CollectorRegistry()
    metrics = CaptureMetrics.create(registry)
    labels = {"connector": "xm-his", "institution": "I1", "system": "his"}
    metrics.events.labels(**labels, op="c").inc()
    metrics.snapshot_active.labels(**labels).set(1)
    metrics.observe_lag(labels, 512, 1500)
    assert registry.get_sample_value("streamhub_capture_events_total", {**labels, "op": "c"}) == 1
    assert registry.get_sample_value("streamhub_capture_snapshot_active_state", labels) == 1
    assert registry.get_sample_value("streamhub_capture_lag_bytes", labels) == 512
    assert registry.get_sample_value("streamhub_capture_lag_seconds", labels) == 1.5
    names = {family.name for family in registry.collect()}
    assert names == {
        "streamhub_capture_events",
        "streamhub_capture_errors",
        "streamhub_capture_snapshot_rows",
        "streamhub_capture_snapshot_active_state",
        "streamhub_capture_lag_bytes",
        "streamhub_capture_lag_seconds",
        "streamhub_capture_resnapshot_requests",
    }
