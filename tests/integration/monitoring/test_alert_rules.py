"""The alert rules load in Prometheus (`promtool check rules`) and behave as their unit
tests say (`promtool test rules`: each alert has a firing and a non-firing case)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from streamhub.stack.prometheus import PrometheusTools


def _promtool(tools: PrometheusTools, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [str(tools.promtool), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_alert_rules_are_valid_and_pass_their_unit_tests(
    prometheus_tools: PrometheusTools, project_dir: Path
) -> None:
    monitoring = project_dir / "monitoring"
    checked = _promtool(prometheus_tools, "check", "rules", "alerts.yml", cwd=monitoring)
    alerts = yaml.safe_load((monitoring / "alerts.yml").read_text())
    names = {rule["alert"] for group in alerts["groups"] for rule in group["rules"]}
    assert f"SUCCESS: {len(names)} rules found" in checked

    cases = yaml.safe_load((monitoring / "tests" / "alerts_test.yml").read_text())["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert names - firing == set(), "alerts without a firing case"
    assert names - quiet == set(), "alerts without a non-firing case"
    _promtool(prometheus_tools, "test", "rules", "tests/alerts_test.yml", cwd=monitoring)
