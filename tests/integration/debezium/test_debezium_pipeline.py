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
from streamhub.debezium.render import password_key, render
from streamhub.kafka.groups import committed_lags, topic_ends
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases
from streamhub.stack import process
from streamhub.stack.connect import ConnectWorker, WorkerOptions
from streamhub.stack.errors import ConnectRestError
from streamhub.stack.postgres import Postgres

from ..capture.helpers import wait_until, write_connector_files
from ..pipeline.harness import LANDED_TOPICS, RAW_TOPICS, Pipeline, capture_caught_up
from ..pipeline.test_end_to_end import assert_final_state_exact

START = datetime(2026, 3, 2, 8, 30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def debezium_config(
    settings: Settings, worker: ConnectWorker, config: ConnectorConfig
) -> dict[str, str]:
    """The connector file rendered as `streamhub connectors apply` would (JSON with schemas,
    topic prefix dbz.<name>, heartbeats, the password by reference to this worker's secrets
    file), with this test's topics on one replica."""
    return render(config, settings, worker.secrets_file) | {
        "topic.creation.default.replication.factor": "1"
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
        try:
            states = [connect.connector_state(n) for n in names]
        except ConnectRestError:  # no status yet, just after the PUT or a restart
            time.sleep(0.5)
            continue
        failed = [
            s for s in states if s[0] == "FAILED" or any(t.startswith("FAILED") for t in s[1])
        ]
        assert not failed, f"Debezium connector failed: {failed}; see {connect.log_file}"
        if all(s[0] == "RUNNING" and s[1] == ["RUNNING"] for s in states):
            return
        time.sleep(0.5)
    raise AssertionError(f"Debezium connectors not running after {timeout_s} s")


def _snapshot_done(connect: ConnectWorker, name: str) -> bool:
    """Debezium's stored offset says streaming has begun (the initial snapshot completed)."""
    try:
        offsets = connect.request("GET", f"/connectors/{name}/offsets")["offsets"]
    except Exception:
        return False
    for entry in offsets:
        offset = entry.get("offset") or {}
        if "snapshot" not in offset or str(offset.get("snapshot_completed")).lower() == "true":
            return True
    return False


def _wait_snapshots(connect: ConnectWorker, names: list[str], timeout_s: float = 180) -> None:
    """Kill -9 during Debezium's initial snapshot is another story (see the decision record:
    the snapshot restarts and rows deleted meanwhile stay in Kafka); this test kills streaming."""
    deadline = time.monotonic() + timeout_s
    while not all(_snapshot_done(connect, n) for n in names):
        assert time.monotonic() < deadline, f"snapshots not done after {timeout_s} s"
        time.sleep(1)


def _processed_through_now(pipeline: Pipeline, timeout_s: float) -> bool:
    """The standardizer, then the lander, committed past where their topics end now: this run's
    changes are landed, whatever other tests write to the shared raw topics meanwhile."""
    settings = pipeline.settings
    stages = (
        (pipeline.standardize_group, RAW_TOPICS),
        (pipeline.lander_group, LANDED_TOPICS),
    )
    for group, topics in stages:
        ends = topic_ends(settings, topics)

        def past(group: str = group, topics: list[str] = topics, ends: Any = ends) -> bool:
            lags = committed_lags(settings.kafka_bootstrap, group, topics)
            return all(lag.committed >= ends.get((lag.topic, lag.partition), 0) for lag in lags)

        if not wait_until(past, timeout_s, every_s=1):
            return False
    return True


def _delete_some_rows(settings: Settings, config: ConnectorConfig) -> None:
    table = config.tables[0]
    with contextlib.closing(Postgres(settings).connect(config.connection.database)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} LIMIT 3)")
            assert cur.rowcount == 3


def _drop_slots(settings: Settings, configs: list[ConnectorConfig]) -> None:
    with contextlib.closing(Postgres(settings).connect()) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for config in configs:
                cur.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE slot_name = %s AND NOT active",
                    (render(config, settings)["slot.name"],),
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
        configs = write_connector_files(
            settings, simulation, connectors_dir, row_count_s=60, capture_engine="debezium"
        )
        worker.write_secrets({password_key(c): c.password(settings) for c in configs})
        # the test reads the sources through the agent's snapshot readers (its ground truth)
        readable = [c.model_copy(update={"capture_engine": "streamhub"}) for c in configs]
        pipeline.pin_groups_to_end()
        pipeline.starts |= topic_ends(settings, ["ops.heartbeat", "dlq.capture"])
        migrated = pipeline.streamhub("clickhouse", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        pipeline.start("standardize")
        pipeline.start("land")
        normalize = ["debezium", "normalize", "--connect-url", worker.options.rest_url]
        for config in configs:
            normalize += ["--connector", config.name]
        pipeline.start("normalize", *normalize)
        for config in configs:  # snapshot of the warm-up rows, then streaming
            worker.put_connector(config.name, debezium_config(settings, worker, config))
            names.append(config.name)
        _wait_streaming(worker, names)
        _wait_snapshots(worker, names)

        runner = threading.Thread(target=simulation.run, daemon=True)
        runner.start()
        time.sleep(options.duration_s * 0.4)
        _delete_some_rows(settings, configs[0])  # deletes are rare in the simulated mix
        _kill_and_restart(worker)  # while the simulator goes on writing
        runner.join()
        _wait_streaming(worker, names)
        problems = capture_caught_up(pipeline, readable, 150)
        assert problems == [], f"{problems}\nnormalize:\n{pipeline.log_tail('normalize')}"
        assert _processed_through_now(pipeline, 240), (
            f"pipeline lag {pipeline.lag()}\nstandardize:\n{pipeline.log_tail('standardize')}"
            f"\nland:\n{pipeline.log_tail('land')}"
        )
        pipeline.stop_all()
        assert_final_state_exact(settings, pipeline, readable, prefix)

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
        # heartbeats: streaming, and failed while the worker was down (link health: DOWN)
        beats = [
            beat
            for _, _, value in pipeline.read(["ops.heartbeat"])
            if (beat := serde.decode(value).value)["connector"] in ours
        ]
        for name in ours:
            states = {b["state"] for b in beats if b["connector"] == name}
            assert {"streaming", "failed"} <= states, (name, states)
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
