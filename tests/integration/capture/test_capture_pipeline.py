"""Snapshot + stream from both engines while the simulator writes: Kafka ends up with the source."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

from confluent_kafka.schema_registry import SchemaRegistryClient
from prometheus_client import REGISTRY

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.snapshotting import table_id
from streamhub.capture.source import open_readers
from streamhub.config import Settings
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.faults import parse_fault
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases

from .helpers import (
    captured,
    changes_of,
    kafka_matches_source,
    read_topic,
    wait_until,
    write_connector_files,
)

START = datetime(2026, 3, 2, 9, 0)


def _row_counts(settings: Settings, connectors: list[ConnectorConfig]) -> dict[str, int]:
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    names = {c.name for c in connectors}
    latest: dict[str, tuple[int, int]] = {}
    for _, _, value in read_topic(settings, ["ops.source_counts"]):
        record = serde.decode(value).value
        if record["connector"] in names and record["row_count"] is not None:
            table = f"{record['database']}.{record['table']}"
            if record["emitted_ts_ms"] >= latest.get(table, (0, 0))[0]:
                latest[table] = (record["emitted_ts_ms"], record["row_count"])
    return {table: rows for table, (_, rows) in latest.items()}


def _db_counts(settings: Settings, connectors: list[ConnectorConfig]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for config in connectors:
        _, reader = open_readers(config, config.password(settings))
        try:
            counts |= {table_id(t): reader.count(t) for t in reader.tables()}
        finally:
            reader.close()
    return counts


def test_snapshot_then_stream_on_both_engines_leaves_kafka_equal_to_the_source(
    capture_settings: Settings, connectors_dir: Path, tmp_path: Path
) -> None:
    settings = capture_settings
    prefix = f"cp{uuid.uuid4().hex[:6]}"
    options = SimulationOptions(
        start=START,
        seed=21,
        hospitals=1,  # h01 on PostgreSQL (english_pg)
        clinics=1,  # c01 on MariaDB (pinyin_gbk, GBK text)
        rate=250.0,
        duration_s=10.0,
        compression=360.0,
        bad_fraction=0.03,
        bad_kinds=("undecodable_text", "missing_required"),
        faults=(
            parse_fault("alter:h01@4s,entity=patient"),
            parse_fault("alter:c01@4s,entity=patient"),
        ),
        db_prefix=prefix,
    )
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    simulation.setup()
    connectors = [
        c
        for c in write_connector_files(settings, simulation, connectors_dir, row_count_s=3)
        if c.system in ("his", "emr")
    ]
    try:
        with captured(settings, connectors, start_s=60):
            simulation.run()  # concurrent with the initial snapshot and the stream
            assert kafka_matches_source(settings, connectors, 90) == []
            # once the source is quiet, the periodic row counts at a log position are exact
            assert wait_until(
                lambda: _row_counts(settings, connectors) == _db_counts(settings, connectors), 30
            )
    finally:
        ledger = read_ledger(tmp_path / "ledger.json")
        drop_databases(settings, ledger)

    changes = changes_of(settings, connectors)
    ops = Counter(c["op"] for c in changes)
    assert ops["r"] > 0 and ops["c"] > 0 and ops["u"] > 0

    # ADD COLUMN mid-stream: later envelopes carry the column on both engines
    added = {"h01": "wechat_openid", "c01": "WXID"}
    for inst, column in added.items():
        carrying = [
            c
            for c in changes
            if c["source"]["connector"] == f"{prefix}-{inst}-his"
            and c["after"] is not None
            and c["after"].get(column) is not None
        ]
        assert carrying, f"no envelope of {inst} carries {column}"

    # GBK text arrives decoded; the undecodable address went to dlq.capture with its bytes
    gbk_names = [
        c["after"]["XM"]
        for c in changes
        if c["source"]["connector"] == f"{prefix}-c01-his"
        and c["source"]["table"] == "GY_BRXX"
        and c["after"]
        and c["after"]["XM"]
    ]
    assert gbk_names and all("\u4e00" <= name[0] <= "\u9fff" for name in gbk_names)
    planted = {b["key"] for b in ledger["bad_records"] if b["kind"] == "undecodable_text"}
    assert planted, "the simulator planted no undecodable text"
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    letters = [serde.decode(value).value for _, _, value in read_topic(settings, ["dlq.capture"])]
    ours = [d for d in letters if d["table"] and d["table"].startswith(f"{prefix}_c01_his.")]
    assert len(ours) >= len(planted)
    assert all(d["original_value"].endswith(b"\xff\xff") for d in ours)
    assert all("gbk" in d["reason"].lower() for d in ours)

    # ops.heartbeat from every connector, and per-connector Prometheus counters
    beats = [serde.decode(value).value for _, _, value in read_topic(settings, ["ops.heartbeat"])]
    for config in connectors:
        mine = [b for b in beats if b["connector"] == config.name]
        assert mine and mine[-1]["events_total"] > 0 and mine[-1]["position"]
        assert mine[-1]["state"] == "streaming"
        read = REGISTRY.get_sample_value(
            "streamhub_capture_events_total",
            {
                "connector": config.name,
                "institution": config.institution_id,
                "system": config.system,
                "op": "c",
            },
        )
        assert read is not None and read > 0

    # ops.source_counts: per table, inserts/updates/deletes equal what the simulator wrote
    # during the run (the initial state arrived as snapshot reads, not log changes)
    counted: dict[tuple[str, str, int], tuple[int, int, int]] = {}
    for _, _, value in read_topic(settings, ["ops.source_counts"]):
        record = serde.decode(value).value
        # window counts only: row-count records (row_count set) are a different measure
        if record["connector"] in {c.name for c in connectors} and record["row_count"] is None:
            window = (record["database"], record["table"], record["window_start_ms"])
            counted[window] = (record["inserts"], record["updates"], record["deletes"])
    from_log: Counter[tuple[str, str]] = Counter()
    for (database, table, _), (ins, upd, dele) in counted.items():
        name = table.split(".")[-1]
        from_log[(database, name)] += ins + upd + dele
    written: Counter[tuple[str, str]] = Counter()
    for _inst, database, table, _op, minute, n in ledger["counts"]:
        if minute >= START.strftime("%Y-%m-%dT%H:%M") and database.endswith(("_his", "_emr")):
            written[(database, table)] += n
    assert from_log == written
