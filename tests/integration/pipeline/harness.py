"""Run the whole pipeline as an operator would: capture, `streamhub standardize`, `streamhub land`.

Workers run as subprocesses (so a test can kill -9 them) with their own Kafka groups,
pinned at the topics' current ends so earlier tests' messages are not replayed. The
embedded ClickHouse belongs to the lander; the test reads it with `streamhub clickhouse
query` once the lander has stopped (one process per engine).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.envelope import avro_name, row_key
from streamhub.config import Settings
from streamhub.core.topic_names import RAW_TOPICS as APP_RAW_TOPICS
from streamhub.demo.workers import Workers
from streamhub.kafka.groups import group_lag, pin_to_end, topic_ends
from streamhub.land.targets import DEFAULT_ROUTES
from streamhub.serde.avro_serde import AvroSerde
from tests.integration.commands import run_streamhub

from ..capture.helpers import (
    _key_columns,
    latest_in_kafka,
    source_rows,
    table_rows,
    wait_until,
)

RAW_TOPICS = list(APP_RAW_TOPICS)


# what the lander consumes: its group is pinned and its lag measured over these
LANDED_TOPICS = list(DEFAULT_ROUTES)


@dataclass
class Pipeline:
    settings: Settings
    workdir: Path
    connectors_dir: Path
    tag: str
    database: str = "e2e"
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # where each topic partition ended when the run began: this run's messages follow
    starts: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def standardize_group(self) -> str:
        return f"test-standardize-{self.tag}"

    @property
    def lander_group(self) -> str:
        return f"test-lander-{self.tag}"

    @property
    def reconcile_group(self) -> str:
        return f"test-reconcile-{self.tag}"

    @property
    def anomaly_group(self) -> str:
        return f"test-anomaly-{self.tag}"

    @property
    def dsn(self) -> str:
        return f"chdb://{self.workdir / 'clickhouse'}"

    def env(self) -> dict[str, str]:
        """The demo's worker environment, with this run's groups and ClickHouse."""
        run = {
            "STREAMHUB_STANDARDIZE_GROUP": self.standardize_group,
            "STREAMHUB_LANDER_GROUP": self.lander_group,
            "STREAMHUB_RECONCILE_GROUP": self.reconcile_group,
            "STREAMHUB_ANOMALY_GROUP": self.anomaly_group,
            "STREAMHUB_CLICKHOUSE_DSN": self.dsn,
            "STREAMHUB_CLICKHOUSE_DATABASE": self.database,
        }
        return Workers(self.settings, self.connectors_dir, self.workdir, extra_env=run).env()

    def streamhub(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_streamhub(*args, env=self.env(), cwd=self.settings.project_dir, timeout=timeout)

    # --- workers ---------------------------------------------------------------------------

    def pin_groups_to_end(self) -> None:
        """Both groups start where the topics end now: earlier tests' messages are not ours."""
        self.starts |= pin_to_end(self.settings, self.standardize_group, RAW_TOPICS)
        self.starts |= pin_to_end(self.settings, self.lander_group, LANDED_TOPICS)

    def read(self, topics: list[str]) -> list[tuple[str, bytes, bytes]]:
        """(topic, key, value) of the messages written to ``topics`` since the run began."""
        wanted = {
            where: high
            for where, high in topic_ends(self.settings, topics).items()
            if high > self.starts.get(where, 0)
        }
        consumer = Consumer(
            {"bootstrap.servers": self.settings.kafka_bootstrap, "group.id": f"read-{self.tag}"}
        )
        try:
            consumer.assign([TopicPartition(t, p, self.starts.get((t, p), 0)) for t, p in wanted])
            out: list[tuple[str, bytes, bytes]] = []
            deadline = time.monotonic() + 120
            while wanted and time.monotonic() < deadline:
                for message in consumer.consume(1000, timeout=1.0):
                    where = (message.topic() or "", message.partition() or 0)
                    if message.error() is not None or where not in wanted:
                        continue
                    out.append((where[0], message.key() or b"", message.value() or b""))
                    if (message.offset() or 0) + 1 >= wanted[where]:
                        del wanted[where]
            assert not wanted, f"could not read {sorted(wanted)} to their ends"
            return out
        finally:
            consumer.close()

    def start(self, name: str, *command: str) -> None:
        """Start a worker: ``start("land")``, or a named command line, e.g.
        ``start("reconcile", "reconcile", "run", "--metrics-port", "39103")``."""
        command = command or {"standardize": ("standardize",), "land": ("land",)}[name]
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "streamhub", "--log-level", "info", *command],
            env=self.env(),
            cwd=self.settings.project_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(30)

    def stop(self, name: str) -> int:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise

    def stop_all(self) -> None:
        for name in list(self.processes):
            if self.processes[name].poll() is None:
                self.stop(name)
            else:
                self.processes.pop(name)

    def alive(self, name: str) -> bool:
        return self.processes[name].poll() is None

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.workdir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def lag(self) -> int:
        """Messages not yet committed by the standardizer or the lander."""
        return group_lag(self.settings, self.standardize_group, RAW_TOPICS) + group_lag(
            self.settings, self.lander_group, LANDED_TOPICS
        )

    def wait_drained(self, timeout_s: float, quiet_s: float = 6.0) -> bool:
        """Lag zero on both groups, and still zero ``quiet_s`` later (outputs of the last
        standardized batch reach the lander's topics before its offsets commit)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name in self.processes:
                if not self.alive(name):
                    raise AssertionError(f"{name} exited:\n{self.log_tail(name)}")
            if self.lag() == 0:
                time.sleep(quiet_s)
                if self.lag() == 0:
                    return True
            time.sleep(1)
        return False

    # --- reading ClickHouse --------------------------------------------------------------------

    def query(self, sql: str) -> list[dict[str, Any]]:
        done = self.streamhub("clickhouse", "query", "--format", "json", sql)
        if done.returncode != 0:
            raise AssertionError(f"clickhouse query failed: {done.stderr[-2000:]}")
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def envelope_value(value: object) -> object:
    """A source value as the capture envelope carries it (decimals as exact text)."""
    return format(value, "f") if isinstance(value, Decimal) else value


@dataclass(frozen=True)
class SourceRow:
    connector: str
    database: str
    qualified: str  # schema.table on PostgreSQL, the table on MariaDB
    table: str
    key_json: str
    image: dict[str, object]


def source_final_state(settings: Settings, connectors: list[ConnectorConfig]) -> list[SourceRow]:
    """Every row of the connectors' tables, read now, as an envelope image."""
    return [
        SourceRow(
            config.name,
            table.database,
            table.qualified,
            table.name,
            json.dumps(
                row_key(table, row), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ),
            {avro_name(k): envelope_value(v) for k, v in row.items()},
        )
        for config in connectors
        for table, row in table_rows(settings, config)
    ]


def capture_caught_up(
    pipeline: Pipeline, connectors: list[ConnectorConfig], timeout_s: float
) -> list[str]:
    """Wait until every source row's latest version is in Kafka (this run's messages only);
    the remaining differences, empty when caught up."""
    serde = AvroSerde(SchemaRegistryClient({"url": pipeline.settings.registry_url}))
    names = {c.name for c in connectors}
    keys = _key_columns(pipeline.settings, connectors)
    problems: list[str] = []

    def caught_up() -> bool:
        changes = [
            envelope
            for _, _, value in pipeline.read(RAW_TOPICS)
            if (envelope := serde.decode(value).value)["source"]["connector"] in names
        ]
        live = {k: v for k, v in latest_in_kafka(changes, keys).items() if v is not None}
        source: dict[Any, Any] = {}
        for config in connectors:
            source |= source_rows(pipeline.settings, config)
        problems[:] = [f"missing in Kafka: {k}" for k in source.keys() - live.keys()]
        problems.extend(f"deleted at the source: {k}" for k in live.keys() - source.keys())
        problems.extend(
            f"{k}: differs"
            for k in source.keys() & live.keys()
            if any(live[k].get(c, v) != v for c, v in source[k].items())
        )
        return not problems

    wait_until(caught_up, timeout_s, every_s=2)
    return problems[:10]
