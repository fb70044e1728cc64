"""A wrong-shaped envelope on a raw topic: dead-lettered with a reason, the next one flows.

The middle message is validly Avro-encoded with a registered schema whose ``source`` is a
string. Before, it raised TypeError outside StandardizeError: the worker retried the batch,
exited, restarted at the same offset, forever, and the good envelope after it never arrived.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.config import Settings
from streamhub.kafka.groups import topic_ends
from streamhub.serde.avro_serde import AvroSerde

from .test_faust_app import PROJECT, Worker
from .test_standardizer import GOOD_ID, _connector, _event, _message, _row, _table

WRONG_SHAPE = {
    "type": "record",
    "name": "NotAnEnvelope",
    "namespace": "test.poison",
    "fields": [
        {"name": "before", "type": ["null", {"type": "map", "values": ["null", "string"]}]},
        {"name": "after", "type": ["null", {"type": "map", "values": ["null", "string"]}]},
        {"name": "op", "type": "string"},
        {"name": "ts_ms", "type": "long"},
        {"name": "source", "type": "string"},
    ],
}


class PoisonWorker(Worker):
    """The real standardizer's worker (poison_runner), not the copying one."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.log = (tmp / f"poison-worker-{time.monotonic_ns()}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.standardize.poison_runner", *args],
            cwd=PROJECT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


@pytest.fixture
def worker_of(tmp_path: Path) -> Iterator[Callable[..., PoisonWorker]]:
    started: list[PoisonWorker] = []

    def start(*args: str) -> PoisonWorker:
        started.append(PoisonWorker(tmp_path, *args))
        return started[-1]

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait()


def read_new(settings: Settings, start: dict[tuple[str, int], int]) -> list[tuple[str, Any]]:
    """(topic, decoded value) of what was written after ``start``, up to the ends now."""
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    ends = topic_ends(settings, sorted({t for t, _ in start}))
    wanted = {tp: end for tp, end in ends.items() if end > start.get(tp, 0)}
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "t-poison"})
    out: list[tuple[str, Any]] = []
    try:
        consumer.assign([TopicPartition(t, p, start.get((t, p), 0)) for t, p in wanted])
        deadline = time.monotonic() + 30
        while wanted and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is None or m.error() is not None:
                continue
            where = (m.topic(), m.partition())
            if where in wanted and (m.offset() or 0) < wanted[where]:
                out.append((where[0], serde.decode(m.value() or b"").value))
                if (m.offset() or 0) + 1 >= wanted[where]:
                    del wanted[where]
    finally:
        consumer.close()
    return out


def test_a_wrong_shaped_envelope_is_dead_lettered_and_the_next_is_standardized(
    settings: Settings,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    worker_of: Callable[..., PoisonWorker],
    tmp_path: Path,
) -> None:
    source = new_topic("poison-raw")
    directory = tmp_path / "connectors"
    directory.mkdir()
    config = _connector(directory, unique("poison").replace("_", "-"))
    table = _table(unique("db").replace("-", "_"))
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    first = _message(serde, config, _event(table, "c", _row("P1", GOOD_ID), 1), 0)
    last = _message(serde, config, _event(table, "c", _row("P3", GOOD_ID), 3), 2)
    wrong = serde.register(f"{source}-value", WRONG_SHAPE)
    poison = serde.encode(
        wrong,
        {"before": None, "after": {"BRID": "P2"}, "op": "c", "ts_ms": 1, "source": "his"},
    )
    poison_key = json.dumps(
        {"institution_id": config.institution_id, "table": f"{table.database}.GY_BRXX",
         "key": {"BRID": "P2"}}, separators=(",", ":"),
    ).encode()  # fmt: skip
    start = topic_ends(settings, ["std.patient", "dlq.standardize"])
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for key, value in ((first.key, first.value), (poison_key, poison), (last.key, last.value)):
        producer.produce(source, value, key)
    assert producer.flush(30) == 0

    worker = worker_of(
        "--source", source, "--group", unique("poison-app"), "--connectors", str(directory)
    )

    def outputs() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        records = read_new(settings, start)
        patients = [
            r for t, r in records if t == "std.patient" and r["source_database"] == table.database
        ]
        letters = [
            r for t, r in records if t == "dlq.standardize" and r["original_topic"] == source
        ]
        return patients, letters

    deadline = time.monotonic() + 60
    patients, letters = outputs()
    while (len(patients) < 2 or not letters) and time.monotonic() < deadline:
        assert worker.proc.poll() is None, f"the worker exited\n{worker.output()}"
        time.sleep(1.0)
        patients, letters = outputs()
    assert len(patients) == 2, worker.output()  # the one after the poison pill too
    assert sorted(p["source_position"] for p in patients) == ["0-1-1", "0-1-3"]
    assert len(letters) == 1
    letter = letters[0]
    assert letter["original_offset"] == 1 and letter["original_value"] == poison
    assert letter["error_type"] == "EnvelopeShapeError"
    assert f"{source}[0]@1" in letter["reason"] and "source is str" in letter["reason"]
    assert worker.proc.poll() is None  # still running, not crash-looping
    assert worker.stop() == 0, worker.output()
