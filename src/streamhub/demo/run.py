"""The demo: simulated institutions -> capture -> Kafka -> standardize -> ClickHouse, live.

The simulation and the capture agent run in this process; the standardizer and
the lander are child processes (the lander owns the embedded ClickHouse). A
per-institution summary is printed every few seconds until the pipeline has
drained (or until Ctrl-C with ``until_stopped``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from streamhub.capture.alongside import CaptureAlongside
from streamhub.capture.connector import load_connector
from streamhub.config import Settings
from streamhub.demo.errors import WorkerError
from streamhub.demo.summary import Summary, collect
from streamhub.demo.workers import Workers
from streamhub.kafka.groups import pin_to_end
from streamhub.simulate.connectors import connector_documents, write_connectors
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.sink.targets import DEFAULT_ROUTES
from streamhub.standardize.app import RAW_TOPICS

Echo = Callable[[str], None]
DEMO_GROUPS = {"standardize": "streamhub-demo-standardize", "land": "streamhub-demo-lander"}


@dataclass(frozen=True)
class DemoOptions:
    every_s: float = 5.0
    until_stopped: bool = False
    drain_timeout_s: float = 180.0


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
) -> Summary:
    sim_dir = settings.data_dir / "sim"
    simulation = Simulation(settings, simulation_options, sim_dir / "ledger.json")
    paths = write_connectors(
        sim_dir / "connectors",
        connector_documents(
            settings, simulation.institutions, simulation.dialects, simulation_options.db_prefix
        ),
    )
    names = {inst.credit_code: inst.name for inst in simulation.institutions}
    # the demo's own groups, pinned where the topics end now: this run's changes only, even
    # on a machine whose topics hold earlier runs (simulated databases are re-created)
    workers = Workers(
        settings,
        sim_dir / "connectors",
        settings.data_dir / "demo",
        extra_env={
            "STREAMHUB_STANDARDIZE_GROUP": DEMO_GROUPS["standardize"],
            "STREAMHUB_LANDER_GROUP": DEMO_GROUPS["land"],
        },
    )
    pin_to_end(settings, DEMO_GROUPS["standardize"], list(RAW_TOPICS))
    pin_to_end(settings, DEMO_GROUPS["land"], list(DEFAULT_ROUTES))
    echo(workers.run_once("clickhouse", "migrate", "--reset").strip())
    workers.start("standardize")
    workers.start("land")
    echo(f"workers started; logs in {workers.log_dir}")
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
        summary = _until_drained(workers, names, options, echo)
    finally:
        codes = workers.stop()
        echo(f"workers stopped: {codes}")
    return summary


def _until_drained(
    workers: Workers, names: dict[str, str], options: DemoOptions, echo: Echo
) -> Summary:
    deadline = time.monotonic() + options.drain_timeout_s
    while True:
        time.sleep(options.every_s)
        workers.check_alive()
        summary = collect(workers.metrics_urls(), names)
        echo(summary.render(names))
        if options.until_stopped:
            continue  # Ctrl-C ends it
        if drained(summary):
            echo("drained: every captured change is standardized (or dead-lettered) and landed")
            return summary
        if time.monotonic() > deadline:
            raise WorkerError(
                f"the pipeline did not drain within {options.drain_timeout_s:g} s; see the logs "
                f"in {workers.log_dir}"
            )
