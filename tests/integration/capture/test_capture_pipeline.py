"""Snapshot + stream from both engines while the simulator writes: Kafka ends up with the source."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.agent import CaptureAgent
from streamhub.capture.positions import PositionStore
from streamhub.capture.snapshotting import table_id
from streamhub.capture.source import open_readers
from streamhub.config import Settings
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.faults import parse_fault
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases

from .helpers import (
    changes_of,
    latest_in_kafka,
    read_topic,
    source_rows,
    wait_until,
    write_connector_files,
)

START = datetime(2026, 3, 2, 9, 0)


def _key_columns(settings: Settings, connectors: list[Any]) -> dict[str, tuple[str, ...]]:
    keys: dict[str, tuple[str, ...]] = {}
    for config in connectors:
        _, reader = open_readers(config, config.password(settings))
        try:
            keys |= {table_id(t): t.key_columns for t in reader.tables()}
        finally:
            reader.close()
    return keys


def _differences(settings: Settings, connectors: list[Any]) -> list[str]:
    keys = _key_columns(settings, connectors)
    in_kafka = latest_in_kafka(changes_of(settings, connectors), keys)
    live = {k: v for k, v in in_kafka.items() if v is not None}
    in_source: dict[Any, Any] = {}
    for config in connectors:
        in_source |= source_rows(settings, config)
    problems = [f"missing in Kafka: {k}" for k in in_source.keys() - live.keys()]
    problems += [
        f"gone from the source, live in Kafka: {k}" for k in live.keys() - in_source.keys()
    ]
    for key in in_source.keys() & live.keys():
        source, kafka = in_source[key], live[key]
        differing = {c for c in source if c in kafka and source[c] != kafka[c]}
        if differing:
            problems.append(f"{key}: {sorted(differing)} differ")
    return problems


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
        for c in write_connector_files(settings, simulation, connectors_dir)
        if c.system in ("his", "emr")
    ]
    stop = threading.Event()
    agent = CaptureAgent(settings, connectors, coordinated=False)
    worker = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    worker.start()
    try:
        positions = PositionStore(settings)
        assert wait_until(lambda: all(positions.load(c.name) for c in connectors), 60), (
            "connectors did not start"
        )
        simulation.run()  # concurrent with the initial snapshot and the stream
        problems: list[str] = []

        def caught_up() -> bool:
            problems[:] = _differences(settings, connectors)
            return not problems

        assert wait_until(caught_up, 90, every_s=3), problems[:10]
    finally:
        stop.set()
        worker.join(60)
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

    # ops.source_counts: per table, inserts/updates/deletes equal what the simulator wrote
    # during the run (the initial state arrived as snapshot reads, not log changes)
    counted: dict[tuple[str, str, int], tuple[int, int, int]] = {}
    for _, _, value in read_topic(settings, ["ops.source_counts"]):
        record = serde.decode(value).value
        if record["connector"] in {c.name for c in connectors}:
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
