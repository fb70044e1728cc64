"""Time to resume after a Kafka broker is lost, over a few kills.

A private three-broker cluster (`streamhub stack up --brokers 3` under its own data dir and
ports; the shared stack is never touched) carries the pipeline: PostgreSQL and MariaDB
(the shared stack's) → capture → standardize → land. Each round writes changes for
--seconds from a fresh pair of simulated institutions, kills with -9 the broker leading
most raw and std partitions --kill-at seconds in, lets the run drain with that broker down
(nothing else is restarted), checks that ClickHouse holds exactly the sources' final state,
and measures the time from the kill to the first landed row committed after it
(tests/integration/stack/cluster.py resume_after). The broker is then started again
(`Kafka.start_node`) and the next round waits until every replica is back in sync.

    .venv/bin/python bench/broker_loss.py --rounds 3
    .venv/bin/python bench/broker_loss.py --rounds 5 --seconds 30 --kill-at 10

Figures on a shared 2-core machine: bench/README.md; docs/decisions/kafka-cluster.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the pipeline harness lives with the integration tests

from tests.integration.pipeline.harness import RAW_TOPICS  # noqa: E402
from tests.integration.pipeline.test_end_to_end import (  # noqa: E402
    START,
    assert_final_state_exact,
    run_pipeline,
)
from tests.integration.stack.cluster import (  # noqa: E402
    ClusterPipeline,
    PrivateCluster,
    Resume,
    resume_after,
)

from streamhub.config import load_settings  # noqa: E402
from streamhub.simulate.ledger import read_ledger  # noqa: E402
from streamhub.simulate.runner import Simulation, SimulationOptions  # noqa: E402
from streamhub.simulate.verify import drop_databases  # noqa: E402
from streamhub.standardize.model import ENTITY_MODELS  # noqa: E402

KAFKA_PORT = 26092  # brokers 26092, 26094, 26096 (controllers one above); the test uses 25092
REGISTRY_PORT = 26181
TOPICS = RAW_TOPICS + [f"std.{entity}" for entity in ENTITY_MODELS]


def one_round(
    cluster: PrivateCluster, workdir: Path, seed: int, seconds: float, kill_at: float
) -> tuple[int, Resume]:
    tag = uuid.uuid4().hex[:8]
    settings = cluster.settings(
        capture_group=f"bench-capture-{tag}",
        capture_positions_topic=f"_bench_capture_positions_{tag}",
    )
    prefix = f"bl{tag[:6]}"
    options = SimulationOptions(
        start=START,
        seed=seed,
        hospitals=1,
        clinics=1,
        rate=300.0,
        duration_s=seconds,
        compression=360.0,
        db_prefix=prefix,
    )
    workdir.mkdir(parents=True)
    (workdir / "connectors").mkdir()
    simulation = Simulation(settings, options, workdir / "ledger.json")
    pipeline = ClusterPipeline(
        settings, workdir, workdir / "connectors", tag, cluster_env=cluster.env()
    )
    killed: dict[str, float] = {}

    def kill(_: ClusterPipeline) -> None:
        time.sleep(kill_at)
        victim = cluster.busiest_leader(TOPICS)
        killed.update(node=victim, at=time.time())
        cluster.kafka().stop_node(victim, kill=True)

    try:
        connectors = run_pipeline(settings, workdir, simulation, pipeline, kill)
        assert_final_state_exact(settings, pipeline, connectors, prefix)
        return int(killed["node"]), resume_after(pipeline, prefix, killed["at"])
    finally:
        if (workdir / "ledger.json").exists():
            drop_databases(settings, read_ledger(workdir / "ledger.json"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="changes written per round")
    parser.add_argument("--kill-at", type=float, default=7.0, help="seconds into the round")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    shared = load_settings(project_dir=REPO)
    with tempfile.TemporaryDirectory(prefix="broker-loss-") as tmp:
        cluster = PrivateCluster(shared, Path(tmp) / "data", KAFKA_PORT, REGISTRY_PORT)
        took = cluster.up()
        print(f"cluster {cluster.bootstrap} up in {took:.0f} s ({cluster.describe_start()})")
        results: list[Resume] = []
        try:
            for number in range(1, args.rounds + 1):
                deadline = time.monotonic() + 120
                while not cluster.in_sync(TOPICS):
                    if time.monotonic() > deadline:
                        raise SystemExit("replicas not back in sync within 120 s")
                    time.sleep(1)
                workdir = Path(tmp) / f"round-{number}"
                node, resume = one_round(
                    cluster, workdir, args.seed + number, args.seconds, args.kill_at
                )
                results.append(resume)
                print(f"round {number}: broker {node} killed; exact state; {resume.describe()}")
                print(f"  {cluster.kafka().start_node(node)}")
        finally:
            cluster.down()
    resumes = [r.resume_s for r in results]
    print(
        f"time to resume over {len(resumes)} kills: median {statistics.median(resumes):.1f} s, "
        f"min {min(resumes):.1f} s, max {max(resumes):.1f} s; median latency without a kill "
        f"{statistics.median(r.typical_latency_s for r in results):.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
