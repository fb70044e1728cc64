"""Alert rules and dashboards may only name metrics the code really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from streamhub.capture.metrics import CaptureMetrics
from streamhub.registry import server
from streamhub.sink.metrics import land_metrics
from streamhub.standardize.metrics import STANDARDIZE_METRICS

METRIC = re.compile(r"\bstreamhub_[a-z_]+")
SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum")


def _exported() -> set[str]:
    registry = CollectorRegistry()
    CaptureMetrics.create(registry)
    names = {m.name for m in registry.collect()}
    names |= {server.REQUESTS._name, server.SCHEMAS._name}
    land = land_metrics()
    names |= {m._name for m in (land.rows, land.batches, land.errors, land.records)}
    names |= {land.newest_commit._name, STANDARDIZE_METRICS.records._name}
    return names


def _expressions(project_dir: Path) -> list[str]:
    alerts = yaml.safe_load((project_dir / "monitoring" / "alerts.yml").read_text())
    exprs = [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    for dashboard in (project_dir / "monitoring" / "grafana").glob("*.json"):
        panels = json.loads(dashboard.read_text())["panels"]
        exprs += [t["expr"] for p in panels for t in p.get("targets", [])]
    return exprs


def test_every_metric_in_alerts_and_dashboards_is_exported(project_dir: Path) -> None:
    exported = _exported()
    used = {name for expr in _expressions(project_dir) for name in METRIC.findall(expr)}
    assert used, "no streamhub metric referenced at all"
    unknown = {
        name
        for name in used
        if name not in exported and not any(name.removesuffix(s) in exported for s in SUFFIXES)
    }
    assert unknown == set()
