"""The CLI end to end in its own process (its own chDB directory): migrate, land ops, query."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.config import Settings
from streamhub.serde.avro_serde import AvroSerde
from tests.integration.commands import STREAMHUB


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STREAMHUB, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_migrate_land_ops_and_query_through_the_cli(
    settings: Settings,
    registry: SchemaRegistryClient,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
    project_dir: Path,
) -> None:
    dsn, db = f"chdb://{tmp_path / 'ch'}", "cli_db"
    first = _run("clickhouse", "migrate", "--dsn", dsn, "--database", db)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_std_entity_tables" in first.stdout
    again = _run("clickhouse", "migrate", "--dsn", dsn, "--database", db)
    assert "nothing to apply" in again.stdout

    quality = new_topic("ops-quality")
    serde = AvroSerde(registry)
    schema = json.loads((project_dir / "avro_schemas/ops/quality.avsc").read_text())
    writer = serde.register(f"{quality}-value", schema)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for rule in ("id_checksum", "code_in_table"):
        producer.produce(
            quality,
            serde.encode(
                writer,
                {
                    "institution_id": "123502001549897397",
                    "system": "his",
                    "table": "patient",
                    "record_key": "k1",
                    "rule": rule,
                    "dimension": "accuracy",
                    "severity": "error",
                    "message": "bad",
                    "event_ts_ms": 1,
                },
            ),
        )
    assert producer.flush(30) == 0
    common = [
        "--dsn",
        dsn,
        "--database",
        db,
        "--topic",
        f"{quality}=ops_quality",
        "--until-idle",
        "3",
        "--dlq-topic",
        new_topic("dlq"),
        "--landed-counts-topic",
        new_topic("counts"),
    ]
    for group in (unique("cli"), unique("cli-replay")):  # land, then replay from the start
        landed = _run("land", "--group", group, *common)
        assert landed.returncode == 0, landed.stderr
        assert "2 rows" in landed.stderr  # the summary line

    query = _run(
        "clickhouse",
        "query",
        "SELECT rule FROM ops_quality FINAL ORDER BY rule",
        "--format",
        "json",
        "--dsn",
        dsn,
        "--database",
        db,
    )
    assert query.returncode == 0, query.stderr
    assert [json.loads(line) for line in query.stdout.splitlines()] == [
        {"rule": "code_in_table"},
        {"rule": "id_checksum"},
    ]
