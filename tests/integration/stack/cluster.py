"""A private three-broker Kafka cluster (and a registry on it) for broker-loss tests and
bench/broker_loss.py: its own data dir and ports, started and stopped with the `streamhub
stack` commands an operator uses, never touching the shared stack. PostgreSQL and MariaDB
stay the shared stack's; the shared data dir's secrets (database passwords, pseudonym keys)
are copied so workers pointed at the private dir pseudonymize as the test expects."""

from __future__ import annotations

import itertools
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient, ConfigResource

from streamhub.config import Settings
from streamhub.stack.kafka import Kafka
from streamhub.standardize.model import ENTITY_MODELS
from tests.integration.commands import run_streamhub
from tests.integration.pipeline.harness import Pipeline

BROKERS = 3


@dataclass
class PrivateCluster:
    shared: Settings
    data_dir: Path
    kafka_port: int
    registry_port: int
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step of up()

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.kafka_port + 2 * i}" for i in range(BROKERS))

    def env(self) -> dict[str, str]:
        return {
            "STREAMHUB_DATA_DIR": str(self.data_dir),
            "STREAMHUB_KAFKA_BOOTSTRAP": self.bootstrap,
            "STREAMHUB_REGISTRY_URL": f"http://127.0.0.1:{self.registry_port}",
            "STREAMHUB_KAFKA_HEAP_MB": "384",
        }

    def settings(self, **update: object) -> Settings:
        """The shared settings (databases, secrets) re-pointed at this cluster."""
        return self.shared.model_copy(
            update={
                "data_dir": self.data_dir,
                "kafka_bootstrap": self.bootstrap,
                "registry_url": f"http://127.0.0.1:{self.registry_port}",
                **update,
            }
        )

    def _streamhub(self, *args: str, timeout: float = 300) -> str:
        done = run_streamhub(
            *args, env={**os.environ, **self.env()}, cwd=self.shared.project_dir, timeout=timeout
        )
        if done.returncode != 0:
            raise AssertionError(
                f"`streamhub {' '.join(args)}` failed ({done.returncode}):\n"
                f"{done.stdout[-1500:]}\n{done.stderr[-2500:]}"
            )
        return done.stdout

    def up(self) -> float:
        """Start the cluster and registry, apply the topic catalog; the seconds it took."""
        started = time.monotonic()
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        (self.data_dir / "kafka").mkdir(parents=True)
        # the shared stack's resolved broker jars (with their pom stamp): no Maven run here
        shutil.copytree(self.shared.data_dir / "kafka" / "lib", self.data_dir / "kafka" / "lib")
        shutil.copytree(self.shared.secrets_dir, self.data_dir / "secrets")
        self._streamhub("stack", "up", "kafka", "--brokers", str(BROKERS))
        self.timings["brokers"] = time.monotonic() - started
        self._streamhub("stack", "up", "registry")
        self.timings["registry"] = time.monotonic() - started - self.timings["brokers"]
        for attempt in range(3):  # a leader election right after start can refuse a create
            try:
                self._streamhub("topics", "apply")
                break
            except AssertionError:
                if attempt == 2:
                    raise
                time.sleep(3)
        total = time.monotonic() - started
        self.timings["catalog"] = total - self.timings["brokers"] - self.timings["registry"]
        return total

    def describe_start(self) -> str:
        return ", ".join(f"{step} {seconds:.0f} s" for step, seconds in self.timings.items())

    def down(self) -> None:
        self._streamhub("stack", "down", "registry", "kafka", timeout=180)

    def kafka(self) -> Kafka:
        return Kafka(self.settings())

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})

    def replication(self, topics: list[str]) -> dict[str, tuple[int, str]]:
        """topic -> (replicas of partition 0, min.insync.replicas) as the cluster has them."""
        admin = self.admin()
        metadata = admin.list_topics(timeout=15)
        resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in topics]
        found: dict[str, tuple[int, str]] = {}
        for resource, future in admin.describe_configs(resources).items():
            configs = future.result(15)
            replicas = len(metadata.topics[resource.name].partitions[0].replicas)
            found[resource.name] = (replicas, str(configs["min.insync.replicas"].value))
        return found

    def busiest_leader(self, topics: list[str]) -> int:
        """The broker leading most partitions of ``topics`` (the one whose loss hurts most)."""
        metadata = self.admin().list_topics(timeout=15)
        leaders = Counter(
            p.leader
            for name in topics
            if name in metadata.topics
            for p in metadata.topics[name].partitions.values()
        )
        return leaders.most_common(1)[0][0]

    def in_sync(self, topics: list[str]) -> bool:
        """Every partition of ``topics`` has all its replicas in sync."""
        metadata = self.admin().list_topics(timeout=15)
        return all(
            len(p.isrs) == len(p.replicas)
            for name in topics
            for p in metadata.topics[name].partitions.values()
        )


@dataclass
class ClusterPipeline(Pipeline):
    """The pipeline harness with its workers pointed at a private cluster."""

    cluster_env: dict[str, str] | None = None

    def env(self) -> dict[str, str]:
        return {**super().env(), **(self.cluster_env or {})}


@dataclass(frozen=True)
class Resume:
    """How landing went on after a broker was killed at ``killed_at`` (epoch seconds)."""

    resume_s: float  # kill -> first landed row whose source commit came after the kill
    commit_to_land_s: float  # that row's source commit -> landed
    typical_latency_s: float  # median commit -> landed of the rows committed before the kill
    after_kill: int  # row versions committed after the kill that landed
    stall_s: float  # the longest time without any landing, from the kill to the end
    stall_before_s: float  # the same before the kill (what a busy machine adds anyway)

    def describe(self) -> str:
        return (
            f"time to resume {self.resume_s:.1f} s after the kill (first row committed "
            f"after it landed {self.commit_to_land_s:.1f} s after its commit; median latency "
            f"before the kill {self.typical_latency_s:.1f} s); landing stalled at most "
            f"{self.stall_s:.1f} s after the kill ({self.stall_before_s:.1f} s before it); "
            f"{self.after_kill} row versions committed after the kill landed"
        )


def _longest_gap(times_ms: list[int]) -> float:
    return max((b - a for a, b in itertools.pairwise(times_ms)), default=0) / 1000


def resume_after(pipeline: Pipeline, prefix: str, killed_at: float) -> Resume:
    """Measure, over every std table's row versions of this run (not FINAL: each version
    landed once is a landing), when landing resumed after the kill."""
    kill = f"toDateTime64({killed_at:.3f}, 3, 'UTC')"
    union = " UNION ALL ".join(
        f"SELECT commit_time, _landed_time FROM std_{entity} "
        f"WHERE startsWith(source_database, '{prefix}_')"
        for entity in ENTITY_MODELS
    )
    sql = (
        "SELECT "
        f"  toUnixTimestamp64Milli(minIf(_landed_time, commit_time > {kill})) AS first_landed,"
        f"  toUnixTimestamp64Milli(argMinIf(commit_time, _landed_time, commit_time > {kill}))"
        "    AS its_commit,"
        f"  quantileIf(0.5)(dateDiff('millisecond', commit_time, _landed_time),"
        f"    commit_time < {kill}) AS typical_ms,"
        f"  countIf(commit_time > {kill}) AS after_kill "
        f"FROM ({union})"
    )
    (row,) = pipeline.query(sql)
    first, commit = int(row["first_landed"]), int(row["its_commit"])
    landings = sorted(
        int(r["at"])
        for r in pipeline.query(
            f"SELECT DISTINCT toUnixTimestamp64Milli(_landed_time) AS at FROM ({union})"
        )
    )
    kill_ms = int(killed_at * 1000)
    before = [t for t in landings if t < kill_ms]
    after = [t for t in landings if t >= kill_ms]
    return Resume(
        resume_s=first / 1000 - killed_at,
        commit_to_land_s=(first - commit) / 1000,
        typical_latency_s=float(row["typical_ms"]) / 1000,
        after_kill=int(row["after_kill"]),
        # from the last landing before the kill (or the kill) to the last one
        stall_s=_longest_gap(([before[-1]] if before else [kill_ms]) + after),
        stall_before_s=_longest_gap(before),
    )
