"""Debezium's PostgreSQL connector → normalizer → standardizer → lander, exact to the row.

A simulated PostgreSQL hospital (four databases: HIS, EMR, LIS, PACS) is captured by
Debezium 3.6.1's PostgreSQL connector on a real Kafka Connect worker (snapshot of the
warm-up rows, then streaming of the simulator's inserts, updates and deletes), rewritten by
``streamhub debezium normalize`` into the agent's ``cdc.raw.*`` envelopes, standardized and
landed by the real workers. The Connect worker is killed with -9 mid-stream and started
again. ClickHouse must then hold exactly the standardized form of the sources' final state,
row for row (the same comparison the agent's end-to-end test makes), and no event may have
been dead-lettered.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings
from streamhub.debezium.normalize import topic_prefix
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases
from streamhub.stack import process
from streamhub.stack.connect import JSON_CONVERTER, ConnectWorker, WorkerOptions
from streamhub.stack.postgres import Postgres

from ..capture.helpers import write_connector_files
from ..pipeline.harness import RAW_TOPICS, Pipeline, capture_caught_up
from ..pipeline.test_end_to_end import assert_final_state_exact

START = datetime(2026, 3, 2, 8, 30)
SECRET = "postgres_password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _slot(config: ConnectorConfig) -> str:
    return "dbz_" + re.sub(r"[^a-z0-9_]", "_", config.name)


def debezium_config(worker: ConnectWorker, config: ConnectorConfig) -> dict[str, str]:
    """The Connect config of a PostgreSQL connector file, as the normalizer expects it: JSON
    with schemas, one topic prefix per connector, a heartbeat; the password by reference."""
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": config.connection.host,
        "database.port": str(config.connection.port),
        "database.dbname": config.connection.database,
        "database.user": config.connection.user,
        "database.password": worker.secret(SECRET),
        "topic.prefix": topic_prefix(config),
        "slot.name": _slot(config),
        "publication.name": _slot(config),
        "publication.autocreate.mode": "filtered",
        "table.include.list": ",".join(re.escape(t) for t in config.tables),
        "snapshot.mode": "initial",
        "heartbeat.interval.ms": "1000",
        "key.converter": JSON_CONVERTER,
        "value.converter": JSON_CONVERTER,
        "key.converter.schemas.enable": "true",
        "value.converter.schemas.enable": "true",
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": "1",
    }


@pytest.fixture
def worker(settings: Settings) -> Iterator[ConnectWorker]:
    """A Kafka Connect worker of its own group (its configs, offsets and status topics)."""
    options = WorkerOptions(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"test-connect-{uuid.uuid4().hex[:8]}",
        rest_port=_free_port(),
        heap_mb=512,
        plugins=("debezium-postgres",),
        schemas_enable=True,
        offset_flush_ms=1000,
    )
    # jars resolved once into the stack's data directory (re-resolved when the pom changes)
    connect = ConnectWorker(options, settings.data_dir / "test-connect")
    connect.start(timeout_s=300)
    try:
        yield connect
    finally:
        connect.stop(grace_s=20)
        _delete_topics(settings, lambda t: t in options.internal_topics)


def _delete_topics(settings: Settings, wanted: Any) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topics = [t for t in admin.list_topics(timeout=10).topics if wanted(t)]
    if topics:
        for future in admin.delete_topics(topics, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result()


def _kill_and_restart(connect: ConnectWorker) -> None:
    """kill -9 the worker mid-stream, then start it again in the same group: it resumes from
    the source offsets it had flushed (Debezium re-sends what came after them)."""
    assert connect.pid is not None
    os.kill(connect.pid, signal.SIGKILL)
    process.wait_until(
        lambda: not process.alive(connect.pid), "the killed Connect worker to go", 30, None, None
    )
    connect.pid = None
    connect.start(timeout_s=180)


def _wait_streaming(connect: ConnectWorker, names: list[str], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = [connect.connector_state(n) for n in names]
        failed = [
            s for s in states if s[0] == "FAILED" or any(t.startswith("FAILED") for t in s[1])
        ]
        assert not failed, f"Debezium connector failed: {failed}; see {connect.log_file}"
        if all(s[0] == "RUNNING" and s[1] == ["RUNNING"] for s in states):
            return
        time.sleep(0.5)
    raise AssertionError(f"Debezium connectors not running after {timeout_s} s")


def _drop_slots(settings: Settings, configs: list[ConnectorConfig]) -> None:
    with contextlib.closing(Postgres(settings).connect()) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for config in configs:
                cur.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE slot_name = %s AND NOT active",
                    (_slot(config),),
                )


def test_debezium_postgres_lands_exactly_after_kill_9_of_connect(
    capture_settings: Settings, tmp_path: Path, worker: ConnectWorker
) -> None:
    settings = capture_settings
    prefix = f"dbz{uuid.uuid4().hex[:6]}"
    options = SimulationOptions(
        start=START,
        seed=11,
        hospitals=1,
        clinics=0,
        dialects=("english_pg",),
        rate=120.0,
        duration_s=14.0,
        compression=360.0,
        bad_fraction=0.03,
        db_prefix=prefix,
    )
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    connectors_dir = tmp_path / "connectors"
    connectors_dir.mkdir()
    pipeline = Pipeline(settings, tmp_path, connectors_dir, uuid.uuid4().hex[:8])
    configs: list[ConnectorConfig] = []
    names: list[str] = []
    try:
        simulation.setup()
        configs = write_connector_files(settings, simulation, connectors_dir, row_count_s=60)
        worker.write_secrets({SECRET: configs[0].password(settings)})
        pipeline.pin_groups_to_end()
        migrated = pipeline.streamhub("clickhouse", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        pipeline.start("standardize")
        pipeline.start("land")
        normalize = ["debezium", "normalize"]
        for config in configs:
            normalize += ["--connector", config.name]
        pipeline.start("normalize", *normalize)
        for config in configs:  # snapshot of the warm-up rows, then streaming
            worker.put_connector(config.name, debezium_config(worker, config))
            names.append(config.name)
        _wait_streaming(worker, names)

        runner = threading.Thread(target=simulation.run, daemon=True)
        runner.start()
        time.sleep(options.duration_s * 0.4)
        _kill_and_restart(worker)  # while the simulator goes on writing
        runner.join()
        _wait_streaming(worker, names)
        problems = capture_caught_up(pipeline, configs, 150)
        assert problems == [], f"{problems}\nnormalize:\n{pipeline.log_tail('normalize')}"
        assert pipeline.wait_drained(150), (
            f"pipeline lag {pipeline.lag()}\nstandardize:\n{pipeline.log_tail('standardize')}"
            f"\nland:\n{pipeline.log_tail('land')}"
        )
        pipeline.stop_all()
        assert_final_state_exact(settings, pipeline, configs, prefix)

        serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        ours = {c.name for c in configs}
        changes = [
            envelope
            for _, _, value in pipeline.read(RAW_TOPICS)
            if (envelope := serde.decode(value).value)["source"]["connector"] in ours
        ]
        assert {"r", "c", "u", "d"} <= {c["op"] for c in changes}
        institutions = {c.institution_id for c in configs}
        letters = [
            letter
            for _, _, value in pipeline.read(["dlq.capture"])
            if (letter := serde.decode(value).value)["institution_id"] in institutions
        ]
        assert letters == [], [json.dumps(x["reason"]) for x in letters[:3]]
    finally:
        pipeline.stop_all()
        for name in names:
            with contextlib.suppress(Exception):
                worker.delete_connector(name)
        with contextlib.suppress(Exception):
            _drop_slots(settings, configs)
        with contextlib.suppress(Exception):
            drop_databases(settings, read_ledger(tmp_path / "ledger.json"))
        _delete_topics(settings, lambda t: any(t.startswith(topic_prefix(c)) for c in configs))
