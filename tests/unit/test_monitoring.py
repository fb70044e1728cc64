"""Alert rules and dashboards may only name metrics the code really exports, and have the
shape Grafana provisioning and the alert unit tests expect. (promtool itself runs in
tests/integration/monitoring: it comes from a Debian package.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

METRIC = re.compile(r"\bstreamhub_[a-z_]+")
# prometheus_client metrics and custom collector families, the name as first argument
DEFINED = re.compile(
    r"\b(?:Counter|Gauge|Histogram|Summary|\w*MetricFamily)\(\s*\"(streamhub_[a-z0-9_]+)\""
)
SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum")
DATASOURCE_TYPES = {"prometheus", "grafana-clickhouse-datasource"}


# metrics built through core.metrics.MetricNamer: the stage where the namer is made, the
# rest of the name where a metric (or a collector's family name) is built with it
NAMER = re.compile(r"\bMetricNamer\(\s*\"([a-z]+)\"")
BUILT = re.compile(r"\.(?:counter|gauge|histogram|name)\(\s*\"([a-z][a-z0-9_]*)\"")


def _exported(project_dir: Path) -> set[str]:
    names: set[str] = set()
    for source in (project_dir / "src" / "streamhub").rglob("*.py"):
        text = source.read_text()
        names |= set(DEFINED.findall(text))
        for stage in set(NAMER.findall(text)):
            names |= {f"streamhub_{stage}_{what}" for what in BUILT.findall(text)}
    return names


def _alerts(project_dir: Path) -> list[dict[str, Any]]:
    alerts = yaml.safe_load((project_dir / "monitoring" / "alerts.yml").read_text())
    return [rule for group in alerts["groups"] for rule in group["rules"]]


def _dashboards(project_dir: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text())
        for path in sorted((project_dir / "monitoring" / "grafana").glob("*.json"))
    }


def _targets(board: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(panel, target) for panel in board["panels"] for target in panel.get("targets", [])]


def _expressions(project_dir: Path) -> list[str]:
    exprs = [rule["expr"] for rule in _alerts(project_dir)]
    for board in _dashboards(project_dir).values():
        exprs += [t.get("expr") or t.get("rawSql", "") for _, t in _targets(board)]
        exprs += [json.dumps(v.get("query")) for v in board.get("templating", {}).get("list", [])]
    return exprs


def test_every_metric_in_alerts_and_dashboards_is_exported(project_dir: Path) -> None:
    exported = _exported(project_dir)
    assert "streamhub_land_rows_total" in exported, "the definition scan found nothing"
    assert "streamhub_health_link_state" in exported, "the namer scan found nothing"
    used = {name for expr in _expressions(project_dir) for name in METRIC.findall(expr)}
    assert used, "no streamhub metric referenced at all"
    unknown = {
        name
        for name in used
        if name not in exported and not any(name.removesuffix(s) in exported for s in SUFFIXES)
    }
    assert unknown == set()


def test_scrape_config_has_a_job_per_process_and_loads_the_alerts(project_dir: Path) -> None:
    config = yaml.safe_load((project_dir / "monitoring" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: [t for s in job["static_configs"] for t in s["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets == {
        "streamhub-registry": ["127.0.0.1:38081"],
        "streamhub-capture": ["127.0.0.1:9464"],
        "streamhub-standardize": ["127.0.0.1:39101"],
        "streamhub-land": ["127.0.0.1:39102"],
        "streamhub-reconcile": ["127.0.0.1:39103"],
        "streamhub-anomaly": ["127.0.0.1:39104"],
        "streamhub-health": ["127.0.0.1:39105"],
    }
    assert config["rule_files"] == ["alerts.yml"]


def test_every_alert_is_actionable_and_unit_tested(project_dir: Path) -> None:
    rules = _alerts(project_dir)
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    for rule in rules:
        assert rule["labels"]["severity"], rule["alert"]
        assert {"summary", "description"} <= rule["annotations"].keys(), rule["alert"]
    tests = yaml.safe_load((project_dir / "monitoring" / "tests" / "alerts_test.yml").read_text())
    tested = {c["alertname"] for case in tests["tests"] for c in case["alert_rule_test"]}
    assert set(names) - tested == set(), "alerts without promtool test cases"


def test_dashboards_are_provisioning_ready(project_dir: Path) -> None:
    boards = _dashboards(project_dir)
    uids = [board["uid"] for board in boards.values()]
    assert len(uids) == len(set(uids)), "two dashboards share a uid"
    assert {"link-health.json", "reconciliation.json", "throughput.json"} <= boards.keys()
    for name, board in boards.items():
        ids = [panel.get("id") for panel in board["panels"] if "id" in panel]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel, target in _targets(board):
            source = target.get("datasource") or panel.get("datasource") or {"type": "prometheus"}
            assert source["type"] in DATASOURCE_TYPES, (name, panel["title"])
            if source["type"] == "prometheus":
                assert target["expr"].strip(), (name, panel["title"])
            else:
                assert target["rawSql"].lstrip().upper().startswith("SELECT"), panel["title"]
                # a multi-value variable in SQL must be quoted for IN (...)
                assert "$institution" not in target["rawSql"], panel["title"]
