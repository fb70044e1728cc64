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
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings
from streamhub.debezium.normalize import topic_prefix
from streamhub.debezium.render import password_key, render
from streamhub.kafka.groups import topic_ends
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases
from streamhub.stack.connect import ConnectWorker
from streamhub.stack.postgres import Postgres

from ..capture.helpers import write_connector_files
from ..pipeline.harness import RAW_TOPICS, Pipeline, capture_caught_up
from ..pipeline.test_end_to_end import assert_final_state_exact
from .helpers import (
    connect_worker,
    debezium_config,
    delete_topics,
    failed_beats_seen,
    kill_and_restart,
    processed_through_now,
    wait_snapshots,
    wait_streaming,
)

START = datetime(2026, 3, 2, 8, 30)


@pytest.fixture
def worker(settings: Settings) -> Iterator[ConnectWorker]:
    """A Kafka Connect worker of its own group with the PostgreSQL plugin."""
    with connect_worker(settings, ("debezium-postgres",)) as connect:
        yield connect


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
        wait_streaming(worker, names)
        wait_snapshots(worker, names)

        runner = threading.Thread(target=simulation.run, daemon=True)
        runner.start()
        time.sleep(options.duration_s * 0.4)
        _delete_some_rows(settings, configs[0])  # deletes are rare in the simulated mix
        serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        down_reported = failed_beats_seen(
            pipeline, {c.name for c in configs}, lambda value: serde.decode(value).value
        )
        kill_and_restart(worker, down_reported)  # while the simulator goes on writing
        runner.join()
        wait_streaming(worker, names)
        problems = capture_caught_up(pipeline, readable, 150)
        assert problems == [], f"{problems}\nnormalize:\n{pipeline.log_tail('normalize')}"
        assert processed_through_now(pipeline, 240), (
            f"pipeline lag {pipeline.lag()}\nstandardize:\n{pipeline.log_tail('standardize')}"
            f"\nland:\n{pipeline.log_tail('land')}"
        )
        pipeline.stop_all()
        assert_final_state_exact(settings, pipeline, readable, prefix)

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
        delete_topics(settings, lambda t: any(t.startswith(topic_prefix(c)) for c in configs))
