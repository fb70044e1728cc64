"""Replicated Kafka: `stack up --brokers 3` on a private data dir and ports, the catalog
applied with replication 3 and min ISR 2, and one broker killed with -9 for good while
changes flow from PostgreSQL and MariaDB through capture, standardize and land. Nothing is
restarted; the final ClickHouse state must equal the sources' row for row, and the time until
landing resumed is measured and printed."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamhub.catalog.load import load_catalog
from streamhub.config import Settings
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases
from streamhub.standardize.model import ENTITY_MODELS
from tests.integration.commands import run_streamhub
from tests.integration.pipeline.harness import RAW_TOPICS
from tests.integration.pipeline.test_end_to_end import (
    START,
    assert_final_state_exact,
    run_pipeline,
)

from .cluster import ClusterPipeline, PrivateCluster, resume_after

# clear of the shared stack (39092), the region bench (29092) and the fault matrix (27092)
KAFKA_PORT = 25092  # brokers 25092, 25094, 25096; their controllers one above each
REGISTRY_PORT = 25181


@pytest.fixture(scope="module")
def cluster(settings: Settings) -> Iterator[PrivateCluster]:
    # not under pytest's base temp: a concurrent pytest run prunes old base temps, and a
    # broker whose log dirs vanish stops
    home = Path(tempfile.mkdtemp(prefix="streamhub-three-brokers-"))
    private = PrivateCluster(settings, home / "data", KAFKA_PORT, REGISTRY_PORT)
    try:
        took = private.up()
        print(f"\ncluster up in {took:.0f} s ({private.describe_start()})")
        yield private
    finally:
        private.down()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def workdir(cluster: PrivateCluster) -> Path:
    """The run's own directory (connectors, worker logs, chDB) beside the cluster's."""
    path = cluster.data_dir.parent / f"run-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def _status(cluster: PrivateCluster, settings: Settings) -> dict[str, bool]:
    done = run_streamhub(
        "stack", "status", "--json",
        env={**os.environ, **cluster.env()}, cwd=settings.project_dir,
    )  # fmt: skip
    return {s["name"]: s["running"] for s in json.loads(done.stdout)}


def test_the_catalog_and_streamhubs_own_topics_have_3_replicas_min_isr_2(
    cluster: PrivateCluster, settings: Settings
) -> None:
    catalog = [spec.name for spec in load_catalog(settings.project_dir / "topics")]
    assert cluster.replication(catalog) == {name: (3, "2") for name in catalog}
    # created by the registry (through kafka.topics) and by the brokers themselves
    internal = ["_schemas", "__consumer_offsets"]
    assert cluster.replication(internal) == {name: (3, "2") for name in internal}
    status = _status(cluster, settings)
    assert {name: status[name] for name in ("kafka-1", "kafka-2", "kafka-3")} == dict.fromkeys(
        ("kafka-1", "kafka-2", "kafka-3"), True
    )


def test_a_broker_killed_for_good_mid_run_loses_nothing_and_landing_resumes(
    cluster: PrivateCluster, settings: Settings, workdir: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    run_settings = cluster.settings(
        capture_group=f"test-capture-{tag}",
        capture_positions_topic=f"_test_capture_positions_{tag}",
    )
    prefix = f"kb{tag[:6]}"
    options = SimulationOptions(
        start=START,
        seed=8,
        hospitals=1,  # h01 on PostgreSQL
        clinics=1,  # c01 on MariaDB
        rate=300.0,
        duration_s=20.0,
        compression=360.0,
        db_prefix=prefix,
    )
    simulation = Simulation(run_settings, options, workdir / "ledger.json")
    connectors_dir = workdir / "connectors"
    connectors_dir.mkdir()
    pipeline = ClusterPipeline(
        run_settings, workdir, connectors_dir, tag, cluster_env=cluster.env()
    )
    std_topics = [f"std.{entity}" for entity in ENTITY_MODELS]
    killed: dict[str, float] = {}

    def kill_a_broker(pipe: ClusterPipeline) -> None:
        time.sleep(7)
        assert cluster.in_sync(RAW_TOPICS + std_topics)
        victim = cluster.busiest_leader(RAW_TOPICS + std_topics)
        killed["node"] = victim
        killed["at"] = time.time()
        cluster.kafka().stop_node(victim, kill=True)  # and never started again

    try:
        connectors = run_pipeline(run_settings, workdir, simulation, pipeline, kill_a_broker)
        # run_pipeline started each worker once and failed if one exited before the drain
        assert_final_state_exact(run_settings, pipeline, connectors, prefix)
        resume = resume_after(pipeline, prefix, killed["at"])
    finally:
        if (workdir / "ledger.json").exists():  # not when the run failed before it began
            drop_databases(run_settings, read_ledger(workdir / "ledger.json"))
    print(f"\nbroker {killed['node']:.0f} killed with -9 for good: {resume.describe()}")
    assert resume.after_kill > 0, "nothing was committed after the kill: the run proves nothing"
    status = _status(cluster, settings)
    assert status[f"kafka-{killed['node']:.0f}"] is False
    assert sum(status[f"kafka-{n}"] for n in (1, 2, 3)) == 2
