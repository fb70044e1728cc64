"""The reconcile metrics keep the names the alerts and the dashboard query."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from streamhub.reconcile.metrics import ReconcileMetrics

ROOT = Path(__file__).resolve().parents[3]


def exposed(registry: CollectorRegistry) -> set[str]:
    names = set()
    for family in registry.collect():
        names |= {sample.name for sample in family.samples}
        names.add(family.name)
    return names


def test_every_reconcile_metric_monitoring_names_is_exposed() -> None:
    registry = CollectorRegistry()
    metrics = ReconcileMetrics.create(registry)
    metrics.judgements.labels("I1", "MATCH").inc()
    metrics.inputs.labels("source", "applied").inc()
    metrics.windows.labels("I1", "MATCH").set(1)
    metrics.missing_changes.labels("I1").set(0)
    metrics.last_judged.set(1.0)
    referenced = set()
    for path in (ROOT / "monitoring").rglob("*"):
        if path.suffix in (".yml", ".yaml", ".json"):
            referenced |= set(re.findall(r"streamhub_reconcile_[a-z_]+", path.read_text("utf-8")))
    assert referenced, "monitoring/ names no reconcile metric"
    assert referenced <= exposed(registry)
