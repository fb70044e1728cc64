"""Debezium's MariaDB connector → normalizer → standardizer → lander, exact to the row.

A simulated MariaDB hospital (the pinyin-named domestic vendor's HIS, EMR, LIS and PACS
databases) is captured by Debezium 3.5.0's MariaDB connector on a real Kafka Connect worker
(snapshot of the warm-up rows, then streaming of the simulator's inserts, updates and
deletes from the binlog), rewritten by ``streamhub debezium normalize`` into the agent's
``cdc.raw.*`` envelopes, standardized and landed by the real workers. The Connect worker is
killed with -9 mid-stream, after the snapshots completed, and started again. ClickHouse must
then hold exactly the standardized form of the sources' final state, row for row, and no
event may have been dead-lettered.

The vendor's text is stored in utf8mb4 columns here, not as GBK bytes in latin1 columns as
the packaged dialect writes it: Debezium decodes latin1 columns as windows-1252 and its
binlog reader turns the five bytes that code page leaves undefined (0x81, 0x8D, 0x8F, 0x90,
0x9D) into U+FFFD, so such text cannot be carried (``connectors render`` refuses a
MySQL/MariaDB Debezium connector with a non-UTF-8 ``encoding``; see the decision record).
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path

import pytest
import yaml
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings
from streamhub.debezium.render import password_key, schema_history_topic, topic_prefix
from streamhub.kafka.groups import topic_ends
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases
from streamhub.stack.connect import ConnectWorker
from streamhub.stack.mariadb import MariaDB

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
    """A Kafka Connect worker of its own group with the MariaDB plugin (Debezium 3.5.0)."""
    with connect_worker(settings, ("debezium-mariadb",)) as connect:
        yield connect


def _utf8mb4_dialect(directory: Path) -> Path:
    """The packaged MariaDB dialect (same name, tables and profile), its text in utf8mb4."""
    packaged = resources.files("streamhub.simulate") / "dialects" / "pinyin_gbk.yaml"
    document = yaml.safe_load(packaged.read_text(encoding="utf-8"))
    document |= {
        "text_encoding": "utf-8",
        "raw_text": False,
        "table_options": "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    }
    path = directory / "pinyin_utf8mb4.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def _delete_some_rows(settings: Settings, config: ConnectorConfig) -> None:
    database, table = config.connection.database, config.tables[0]
    with contextlib.closing(MariaDB(settings).connect(database)) as conn:
        conn.autocommit(True)
        with conn.cursor() as cur:
            assert cur.execute(f"DELETE FROM `{table}` LIMIT 3") == 3


def test_debezium_mariadb_lands_exactly_after_kill_9_of_connect(
    capture_settings: Settings, tmp_path: Path, worker: ConnectWorker
) -> None:
    settings = capture_settings
    prefix = f"dbm{uuid.uuid4().hex[:6]}"
    options = SimulationOptions(
        start=START,
        seed=13,
        hospitals=1,
        clinics=0,
        dialects=(str(_utf8mb4_dialect(tmp_path)),),
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
    # replica ids of this run's own: a second binlog reader with another's id disconnects it
    server_ids = random.Random(prefix).sample(range(5_000_000, 6_000_000), 8)
    try:
        simulation.setup()
        configs = write_connector_files(
            settings, simulation, connectors_dir, row_count_s=60, capture_engine="debezium"
        )
        assert {c.engine for c in configs} == {"mariadb"}
        assert {c.encoding for c in configs} == {"utf-8"}
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
        for config, server_id in zip(configs, server_ids, strict=False):
            rendered = debezium_config(settings, worker, config)
            assert rendered["connector.class"] == "io.debezium.connector.mariadb.MariaDbConnector"
            rendered["database.server.id"] = str(server_id)
            worker.put_connector(config.name, rendered)  # validated by the plugin first
            names.append(config.name)
        wait_streaming(worker, names)
        wait_snapshots(worker, names)  # kill -9 while streaming, not during the snapshot

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
        streamed = [c for c in changes if c["op"] != "r"]
        assert all(c["source"]["txid"] for c in streamed), "MariaDB's GTID is the txid"
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
            drop_databases(settings, read_ledger(tmp_path / "ledger.json"))
        ours_topics = {schema_history_topic(c) for c in configs}
        delete_topics(
            settings,
            lambda t: t in ours_topics or any(t.startswith(topic_prefix(c) + ".") for c in configs),
        )
