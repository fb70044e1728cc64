"""A real Prometheus scrapes a running pipeline; every dashboard query runs on what it got.

Simulator -> `streamhub capture` -> `standardize` -> `land`, with the operator's plane beside
them (`reconcile run`, `anomaly run`, `health --serve`), each serving /metrics on its own
port. Prometheus (Debian package) runs monitoring/prometheus.yml and alerts.yml re-pointed
at those ports with 1 s scrapes. The test asserts every job is up, the contract's metric
names are exposed (the link metrics with a series per institution and hop), every alert rule
evaluates without error, every PromQL panel and template variable answers without error,
and — once the lander has stopped and released chDB — every SQL panel runs through
clickhouse-connect.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases
from streamhub.stack.prometheus import PrometheusTools

from ..capture.helpers import write_connector_files
from ..pipeline.harness import Pipeline
from .dashboards import CLICKHOUSE, Selection, panel_queries, promql, sql, variable_queries
from .prometheus_server import PrometheusServer, free_port, scrape_config

START = datetime(2026, 3, 2, 9, 0)
RUN_SQL = Path(__file__).with_name("run_sql.py")
HOPS = {"source", "capture", "channel", "processing", "center"}
# what each process must expose (docs: the operator plane's contract)
CONTRACT = {
    "streamhub-capture": ["streamhub_capture_events_total", "streamhub_capture_lag_seconds"],
    "streamhub-standardize": [
        "streamhub_standardize_records_total",
        "streamhub_standardize_messages_total",
        "streamhub_standardize_batch_seconds",
    ],
    "streamhub-land": [
        "streamhub_land_rows_total",
        "streamhub_land_commit_to_queryable_seconds",
        "streamhub_land_last_commit_timestamp_seconds",
    ],
    "streamhub-reconcile": [
        "streamhub_reconcile_judgements_total",
        "streamhub_reconcile_windows",
        "streamhub_reconcile_missing_changes",
        "streamhub_reconcile_inputs_total",
        "streamhub_reconcile_last_judged_timestamp_seconds",
    ],
    "streamhub-anomaly": [
        "streamhub_anomaly_open_count",
        "streamhub_anomaly_suppressed_count",
        "streamhub_anomaly_events_total",
        "streamhub_anomaly_feeds_count",
    ],
    "streamhub-health": [
        "streamhub_health_link_state",
        "streamhub_health_hop_state",
        "streamhub_health_heartbeat_age_seconds",
        "streamhub_health_source_lag_seconds",
        "streamhub_health_consumer_lag_messages",
        "streamhub_health_dead_letters_per_minute",
        "streamhub_health_landing_freshness_seconds",
    ],
}
# panels whose query must return data after any run (the rest may be empty, never an error)
MUST_HAVE_DATA = {
    "Link status",
    "Hop status: source → capture → channel → processing → center",
    "Capture heartbeat age",
    "Landing freshness",
    "Consumer lag per stage",
    "Raw changes consumed per second",
    "Rows landed per second by target",
    "Changes read per second by connector and operation",
    "Changes landed per minute by institution (ClickHouse)",
}


def test_prometheus_scrapes_the_pipeline_and_every_dashboard_query_runs(
    capture_settings: Settings,
    prometheus_tools: PrometheusTools,
    project_dir: Path,
    tmp_path: Path,
) -> None:
    settings = capture_settings
    tag = uuid.uuid4().hex[:8]
    options = SimulationOptions(
        start=START,
        seed=17,
        hospitals=1,  # h01 on PostgreSQL
        clinics=1,  # c01 on MariaDB
        rate=60.0,
        duration_s=8.0,
        compression=360.0,
        bad_fraction=0.02,
        db_prefix=f"mon{tag[:6]}",
    )
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    (tmp_path / "connectors").mkdir()
    pipeline = Pipeline(settings, tmp_path, tmp_path / "connectors", tag)
    monitoring = project_dir / "monitoring"
    server: PrometheusServer | None = None
    try:
        simulation.setup()
        connectors = write_connector_files(settings, simulation, pipeline.connectors_dir)
        institutions = sorted({c.institution_id for c in connectors})
        pipeline.pin_groups_to_end()
        migrated = pipeline.streamhub("clickhouse", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        ports = _start_processes(pipeline, settings, connectors, tag)
        registry = urlparse(settings.registry_url)
        targets = {job: f"127.0.0.1:{port}" for job, port in ports.items()}
        targets["streamhub-registry"] = f"{registry.hostname}:{registry.port}"
        server = PrometheusServer.start(
            prometheus_tools, scrape_config(monitoring, targets), tmp_path / "prometheus"
        )
        runner = threading.Thread(target=simulation.run, daemon=True)
        runner.start()
        _wait(lambda: _targets_up(server, pipeline), 90, "every scrape target up")
        runner.join()
        assert pipeline.wait_drained(120, quiet_s=2), f"pipeline lag {pipeline.lag()}"
        _wait(lambda: _link_series(server, connectors) == [], 60, "link metrics of our connectors")

        _assert_contract_exposed(server, pipeline)
        _wait(lambda: _rules_evaluated(server), 30, "every alert rule evaluated")
        errors = [r for r in _rules(server) if r["health"] != "ok"]
        assert errors == [], [(r["name"], r["lastError"]) for r in errors]

        now = datetime.now(UTC)
        selection = Selection(institutions, now - timedelta(hours=6), now + timedelta(minutes=1))
        empty = _assert_promql_panels_run(server, monitoring / "grafana", selection)
        for board, query in variable_queries(monitoring / "grafana"):
            metric, label = query.removeprefix("label_values(").removesuffix(")").split(", ")
            values = server.api(f"label/{label}/values", **{"match[]": metric})
            if metric in ("streamhub_health_link_state", "streamhub_land_records_total"):
                assert set(institutions) <= set(values), (board, query, values)
    finally:
        pipeline.stop_all()  # the lander releases chDB: the SQL panels can run now
        if server is not None:
            server.stop()
        drop_databases(settings, read_ledger(tmp_path / "ledger.json"))

    empty += _assert_sql_panels_run(pipeline, monitoring / "grafana", selection)
    assert MUST_HAVE_DATA & set(empty) == set(), f"no data: {sorted(MUST_HAVE_DATA & set(empty))}"


def _start_processes(
    pipeline: Pipeline, settings: Settings, connectors: list[ConnectorConfig], tag: str
) -> dict[str, int]:
    """Every process of monitoring/prometheus.yml but the registry (the stack's), each on a
    free metrics port; the scrape job -> port."""
    env = {
        **pipeline.env(),
        "STREAMHUB_CAPTURE_GROUP": settings.capture_group,
        "STREAMHUB_CAPTURE_POSITIONS_TOPIC": settings.capture_positions_topic,
        "STREAMHUB_RECONCILE_GROUP": f"test-reconcile-{tag}",
        "STREAMHUB_ANOMALY_GROUP": f"test-anomaly-{tag}",
    }
    commands = {
        "streamhub-capture": [
            "capture", "--standalone", "--connectors-dir", str(pipeline.connectors_dir),
        ],
        "streamhub-standardize": ["standardize"],
        "streamhub-land": ["land"],
        # short grace and passes, no replay of earlier tests' inputs: a quick first verdict
        "streamhub-reconcile": [
            "reconcile", "run", "--grace", "5s", "--judge-every", "1", "--retention", "10m",
        ],
        "streamhub-anomaly": [
            "anomaly", "run", "--history", "0", "--tick-s", "1",
            *(arg for c in connectors for arg in ("--connectors", c.name)),
        ],
        "streamhub-health": [
            "health", "--serve", "--interval", "1",
            *(arg for c in connectors for arg in ("--institution", c.institution_id)),
        ],
    }  # fmt: skip
    ports = {}
    for job, command in commands.items():
        name = job.removeprefix("streamhub-")
        ports[job] = port = free_port()
        log = (pipeline.workdir / f"{name}.log").open("ab")
        pipeline.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "streamhub", "--log-level", "info", *command,
             "--metrics-port", str(port)],
            env=env, cwd=settings.project_dir, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return ports


def _wait(check: Callable[[], bool | list[str]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    last: bool | list[str] = False
    while time.monotonic() < deadline:
        last = check()
        if last is True:
            return
        time.sleep(0.5)
    raise AssertionError(f"{what}: not after {timeout_s:.0f} s ({last})")


def _targets_up(server: PrometheusServer, pipeline: Pipeline) -> bool | list[str]:
    for name in pipeline.processes:
        assert pipeline.alive(name), f"{name} exited:\n{pipeline.log_tail(name)}"
    active = server.api("targets", state="active")["activeTargets"]
    down = [
        f"{t['labels']['job']}: {t['health']} {t['lastError']}"
        for t in active
        if t["health"] != "up"
    ]
    return down or len(active) == 7


def _link_series(server: PrometheusServer, connectors: list[ConnectorConfig]) -> list[str]:
    """What the link exporter does not report (right) yet for our connectors' institutions.

    Only our connectors' heartbeats are judged: the simulator's institutions recur across
    tests, so an institution may also carry a stopped connector of an earlier test.
    """
    institutions = {c.institution_id for c in connectors}
    missing = []
    for metric in ("streamhub_health_link_state", "streamhub_health_landing_freshness_seconds"):
        seen = {s["metric"].get("institution") for s in server.query(metric)}
        missing += [f"{metric}{{institution={i}}}" for i in sorted(institutions - seen)]
    hops = server.query("streamhub_health_hop_state")
    for institution in sorted(institutions):
        seen = {s["metric"]["hop"] for s in hops if s["metric"]["institution"] == institution}
        missing += [f"hop {h} of {institution}" for h in sorted(HOPS - seen)]
    # a capture agent beats every 5 s: a running one is never a minute old
    ages = {
        s["metric"]["connector"]: float(s["value"][1])
        for s in server.query("streamhub_health_heartbeat_age_seconds")
    }
    missing += [
        f"heartbeat of {c.name}: {ages.get(c.name)}"
        for c in connectors
        if ages.get(c.name, 1e9) > 60
    ]
    return missing


def _assert_contract_exposed(server: PrometheusServer, pipeline: Pipeline) -> None:
    missing = []
    for job, names in CONTRACT.items():
        known = {
            m["metric"] for m in server.api("targets/metadata", match_target=f'{{job="{job}"}}')
        }
        # OpenMetrics names a counter's family without _total
        missing += [
            f"{job}: {n}" for n in names if n not in known and n.removesuffix("_total") not in known
        ]
    assert missing == [], missing
    groups = {s["metric"]["group"] for s in server.query("streamhub_health_consumer_lag_messages")}
    assert {pipeline.standardize_group, pipeline.lander_group} <= groups, groups


def _rules(server: PrometheusServer) -> list[dict[str, object]]:
    return [rule for group in server.api("rules")["groups"] for rule in group["rules"]]


def _rules_evaluated(server: PrometheusServer) -> bool:
    return all(rule["health"] != "unknown" for rule in _rules(server))


def _assert_promql_panels_run(
    server: PrometheusServer, directory: Path, selection: Selection
) -> list[str]:
    """Every PromQL target answers (no error); the titles of panels that returned nothing."""
    failed, empty = [], []
    for query in panel_queries(directory):
        if query.language == CLICKHOUSE:
            continue
        try:
            if not server.query(promql(query.text, selection)):
                empty.append(query.panel)
        except AssertionError as exc:
            failed.append(f"{query}: {exc}")
    assert failed == [], failed
    return empty


def _assert_sql_panels_run(pipeline: Pipeline, directory: Path, selection: Selection) -> list[str]:
    queries = [q for q in panel_queries(directory) if q.language == CLICKHOUSE]
    assert queries, "no SQL panel found"
    done = subprocess.run(
        [sys.executable, str(RUN_SQL), pipeline.dsn, pipeline.database],
        input=json.dumps([sql(q.text, selection) for q in queries]),
        env=pipeline.env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == len(queries), done.stderr[-3000:]
    failed = [f"{q}: {a['error']}" for q, a in zip(queries, answers, strict=True) if a["error"]]
    assert failed == [], failed
    return [q.panel for q, a in zip(queries, answers, strict=True) if a["rows"] == 0]
