"""The demo: simulated institutions -> capture -> Kafka -> standardize -> ClickHouse, live.

The simulation and the capture agent run in this process; the standardizer, the
lander (it owns the embedded ClickHouse and answers read-only queries for the web app),
the operator plane (reconciliation, traffic anomalies, link health) and the web app
(dashboard, console, catalog) are child processes. A per-institution summary is
printed every few seconds until the pipeline has drained (or until Ctrl-C with
``until_stopped``); then the reconciliation of the run's windows and the link health.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from streamhub.capture.alongside import CaptureAlongside
from streamhub.capture.connector import load_connector
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.core.topic_names import RAW_TOPICS
from streamhub.demo.errors import WorkerError
from streamhub.demo.summary import Summary, collect
from streamhub.demo.web_users import ensure_demo_users
from streamhub.demo.workers import QUERY_PORT, Workers
from streamhub.health.evaluate import evaluate
from streamhub.health.gather import gather
from streamhub.health.render import table
from streamhub.health.thresholds import Thresholds
from streamhub.kafka.groups import pin_to_end
from streamhub.land.targets import DEFAULT_ROUTES
from streamhub.reconcile.report import (
    TOTAL_COLUMNS,
    Selection,
    read_results,
    render_table,
    select,
    total_rows,
)
from streamhub.simulate.connectors import connector_documents, write_connectors
from streamhub.simulate.runner import Simulation, SimulationOptions

Echo = Callable[[str], None]
DEMO_GROUPS = {
    "standardize": "streamhub-demo-standardize",
    "land": "streamhub-demo-lander",
    "reconcile": "streamhub-demo-reconcile",
    "anomaly": "streamhub-demo-anomaly",
}
RECONCILE_GRACE_S = 20  # the demo's windows are judged 20 s after their minute ends


@dataclass(frozen=True)
class DemoOptions:
    every_s: float = 5.0
    until_stopped: bool = False
    drain_timeout_s: float = 180.0
    port_offset: int = 0  # added to the workers' ports (see Workers.port_offset)


def demo_groups(db_prefix: str) -> dict[str, str]:
    """The workers' groups; a run with its own database prefix gets its own groups too."""
    suffix = "" if db_prefix == "sim" else f"-{db_prefix}"
    return {kind: f"{group}{suffix}" for kind, group in DEMO_GROUPS.items()}


def drained(summary: Summary) -> bool:
    """Every captured change was standardized or rejected, and every standardized one landed."""
    rows = summary.rows.values()
    return bool(rows) and all(
        r.captured > 0 and r.standardized + r.rejected >= r.captured and r.landed >= r.standardized
        for r in rows
    )


def run_demo(
    settings: Settings,
    simulation_options: SimulationOptions,
    options: DemoOptions,
    echo: Echo,
    clock: Clock = SYSTEM_CLOCK,
) -> Summary:
    sim_dir = settings.data_dir / "sim"
    simulation = Simulation(settings, simulation_options, sim_dir / "ledger.json", clock=clock)
    paths = write_connectors(
        sim_dir / "connectors",
        connector_documents(
            settings, simulation.institutions, simulation.dialects, simulation_options.db_prefix
        ),
    )
    names = {inst.credit_code: inst.name for inst in simulation.institutions}
    groups = demo_groups(simulation_options.db_prefix)
    # the demo's own groups, pinned where the topics end now: this run's changes only, even
    # on a machine whose topics hold earlier runs (simulated databases are re-created)
    workers = Workers(
        settings,
        sim_dir / "connectors",
        settings.data_dir / "demo",
        extra_env={
            "STREAMHUB_STANDARDIZE_GROUP": groups["standardize"],
            "STREAMHUB_LANDER_GROUP": groups["land"],
            "STREAMHUB_RECONCILE_GROUP": groups["reconcile"],
            "STREAMHUB_ANOMALY_GROUP": groups["anomaly"],
            "STREAMHUB_QUERY_URL": f"http://127.0.0.1:{QUERY_PORT + options.port_offset}",
        },
        port_offset=options.port_offset,
    )
    started_ms = now_ms(clock)
    # the settings as the children see them: link health reads the demo's groups and sources
    child_settings = settings.model_copy(
        update={
            "connectors_dir": sim_dir / "connectors",
            "standardize_group": groups["standardize"],
            "lander_group": groups["land"],
        }
    )
    pin_to_end(settings, groups["standardize"], list(RAW_TOPICS))
    pin_to_end(settings, groups["land"], list(DEFAULT_ROUTES))
    echo(workers.run_once("clickhouse", "migrate", "--reset").strip())
    workers.start("standardize")
    workers.start("land", "--query-port", str(workers.port("query")))
    # the operator plane: both apps rebuild their state from the retained ops topics
    workers.start("reconcile", "--grace", f"{RECONCILE_GRACE_S}s", "--retention", "1h")
    workers.start(
        "anomaly", "--compression", f"{simulation_options.compression:g}", "--history", "1h"
    )
    workers.start("health")
    echo(ensure_demo_users(settings, workers.run_once))
    workers.start("serve", "--port", str(workers.port("web")))
    echo(f"workers started; logs in {workers.log_dir}")
    echo(f"dashboard: http://127.0.0.1:{workers.port('web')}/ (区域实时看板, 运维控制台, 数据目录)")
    try:
        simulation.setup()
        with CaptureAlongside(settings, [load_connector(p) for p in paths]) as agent:
            echo(f"capturing {agent.count} sources; simulating {len(names)} institutions")
            runner = threading.Thread(target=simulation.run, daemon=True)
            runner.start()
            while runner.is_alive():
                runner.join(options.every_s)
                workers.check_alive()
                echo(collect(workers.metrics_urls(), names).render(names))
            # the agent keeps running (idle sources still beat and close their last minute)
            summary = _until_drained(workers, names, options, echo, clock)
            echo(reconciliation(settings, set(names), started_ms, workers, echo, clock))
            echo(link_health(child_settings, set(names)))
    finally:
        codes = workers.stop()
        echo(f"workers stopped: {codes}")
    return summary


def _until_drained(
    workers: Workers, names: dict[str, str], options: DemoOptions, echo: Echo, clock: Clock
) -> Summary:
    deadline = clock.monotonic() + options.drain_timeout_s
    while True:
        clock.sleep(options.every_s)
        workers.check_alive()
        summary = collect(workers.metrics_urls(), names)
        echo(summary.render(names))
        if options.until_stopped:
            continue  # Ctrl-C ends it
        if drained(summary):
            echo("drained: every captured change is standardized (or dead-lettered) and landed")
            return summary
        if clock.monotonic() > deadline:
            raise WorkerError(
                f"the pipeline did not drain within {options.drain_timeout_s:g} s; see the logs "
                f"in {workers.log_dir}"
            )


def reconciliation(
    settings: Settings,
    institutions: set[str],
    since_ms: int,
    workers: Workers,
    echo: Echo,
    clock: Clock = SYSTEM_CLOCK,
) -> str:
    """Totals per institution and day of the run's windows, once the last one is judged."""
    last_window_end = (now_ms(clock) // 60_000 + 1) * 60_000
    wait_s = (last_window_end - clock.time() * 1000) / 1000 + RECONCILE_GRACE_S + 10
    echo(
        f"waiting {wait_s:.0f} s for the last minute's reconciliation (grace "
        f"{RECONCILE_GRACE_S} s after the minute ends)"
    )
    deadline = clock.monotonic() + wait_s
    while clock.monotonic() < deadline:
        clock.sleep(min(5.0, max(deadline - clock.monotonic(), 0)))
        workers.check_alive()
    results = [r for r in read_results(settings, since_ms) if r.institution_id in institutions]
    _, totals = select(results, Selection(None, since_ms, None))
    if not totals:
        return "reconciliation: no verdicts yet (see .streamhub/demo/reconcile.log)"
    return "reconciliation (数据对账), per institution and day:\n" + render_table(
        total_rows(totals), TOTAL_COLUMNS
    )


def link_health(settings: Settings, institutions: set[str]) -> str:
    """The demo's institutions only: heartbeats of earlier runs may still be in the horizon."""
    healths = evaluate(gather(settings, Thresholds()), Thresholds())
    return "link health (采集链路):\n" + table(
        [h for h in healths if h.institution_id in institutions]
    )
