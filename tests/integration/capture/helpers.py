"""Shared steps of the capture tests: simulated sources, connector files, reading Kafka back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.agent import CaptureAgent
from streamhub.capture.connector import ConnectorConfig, load_connectors
from streamhub.capture.envelope import avro_name
from streamhub.capture.model import Event, TableInfo
from streamhub.capture.positions import PositionStore
from streamhub.capture.snapshotting import key_of, table_id
from streamhub.capture.source import open_readers
from streamhub.config import Settings
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.connectors import connector_documents, write_connectors
from streamhub.simulate.runner import Simulation


def write_connector_files(
    settings: Settings, simulation: Simulation, directory: Path, **overrides: Any
) -> list[ConnectorConfig]:
    documents = connector_documents(
        settings, simulation.institutions, simulation.dialects, simulation.options.db_prefix
    )
    write_connectors(directory, {name: {**d, **overrides} for name, d in documents.items()})
    return load_connectors(directory)


def read_topic(settings: Settings, topics: list[str]) -> list[tuple[str, bytes, bytes]]:
    """Every message of the topics from the start to their current end: (topic, key, value)."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": "test-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        metadata = consumer.list_topics(timeout=10)
        wanted: dict[tuple[str, int], int] = {}
        assignment = []
        for topic in topics:
            for partition in metadata.topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)
                if high > low:
                    wanted[(topic, partition)] = high
                    assignment.append(TopicPartition(topic, partition, low))
        consumer.assign(assignment)
        out = []
        deadline = time.monotonic() + 60
        while wanted and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error() is not None:
                continue
            where = (message.topic(), message.partition())
            if where not in wanted:
                continue
            out.append((message.topic(), message.key() or b"", message.value() or b""))
            if (message.offset() or 0) + 1 >= wanted[where]:
                del wanted[where]
        return out
    finally:
        consumer.close()


def changes_of(settings: Settings, connectors: list[ConnectorConfig]) -> list[dict[str, Any]]:
    """Decoded change envelopes of these connectors, in topic order."""
    names = {c.name for c in connectors}
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    topics = sorted({c.topic for c in connectors})
    decoded = []
    for _topic, _key, value in read_topic(settings, topics):
        record = serde.decode(value).value
        if record["source"]["connector"] in names:
            decoded.append(record)
    return decoded


def plain(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def table_rows(
    settings: Settings, config: ConnectorConfig
) -> Iterator[tuple[TableInfo, dict[str, object]]]:
    """Every row of the connector's tables, read now through its snapshot reader."""
    _, reader = open_readers(config, config.password(settings))
    try:
        for table in reader.tables():
            after = None
            while True:
                chunk = reader.chunk(table, after, 5000)
                for row in chunk.rows:
                    yield table, row
                if len(chunk.rows) < 5000:
                    break
                after = chunk.last_key
    finally:
        reader.close()


def source_rows(
    settings: Settings, config: ConnectorConfig
) -> dict[tuple[str, tuple[Any, ...]], dict[str, Any]]:
    """Every row of the connector's tables, read now, keyed like the envelopes."""
    return {
        (table_id(table), tuple(plain(v) for v in key_of(table, row))): {
            avro_name(k): plain(v) for k, v in row.items()
        }
        for table, row in table_rows(settings, config)
    }


def latest_in_kafka(
    changes: list[dict[str, Any]], key_columns: dict[str, tuple[str, ...]]
) -> dict[tuple[str, tuple[Any, ...]], dict[str, Any] | None]:
    """(table, key) → the latest after-image (None when the latest change is a delete)."""
    latest: dict[tuple[str, tuple[Any, ...]], tuple[int, dict[str, Any] | None]] = {}
    for change in changes:
        source = change["source"]
        schema = f"{source['schema']}." if source["schema"] else ""
        name = f"{source['database']}.{schema}{source['table']}"
        image = change["after"] if change["op"] != "d" else change["before"]
        key = tuple(plain(image[avro_name(c)]) for c in key_columns[name])
        seq = source["position_seq"]
        if (name, key) not in latest or seq >= latest[(name, key)][0]:
            after = (
                None if change["op"] == "d" else {k: plain(v) for k, v in change["after"].items()}
            )
            latest[(name, key)] = (seq, after)
    return {k: v for k, (_, v) in latest.items()}


def wait_until(check: Callable[[], bool], timeout_s: float, every_s: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every_s)
    return check()


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


def kafka_matches_source(
    settings: Settings, connectors: list[ConnectorConfig], timeout_s: float
) -> list[str]:
    """Wait until every row's latest version in Kafka equals the source; the last differences."""
    problems: list[str] = []

    def caught_up() -> bool:
        problems[:] = _differences(settings, connectors)
        return not problems

    wait_until(caught_up, timeout_s, every_s=3)
    return problems[:10]


def drain(reader: Any, until: Callable[[list[Event]], bool], timeout_s: float = 20) -> list[Event]:
    """Read a log reader's events until ``until`` holds (or fail after ``timeout_s``)."""
    events: list[Event] = []
    deadline = time.monotonic() + timeout_s
    while not until(events):
        assert time.monotonic() < deadline, f"timed out; got {str(events)[:2000]}"
        events += reader.read(500, 0.5)
    return events


@contextmanager
def captured(
    settings: Settings, connectors: list[ConnectorConfig], start_s: float = 90
) -> Iterator[None]:
    """A capture agent runs the connectors (uncoordinated, in this process) for the block,
    which starts once every connector has stored its first position (within ``start_s``)."""
    stop = threading.Event()
    agent = CaptureAgent(settings, connectors, coordinated=False)
    thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    thread.start()
    try:
        positions = PositionStore(settings)
        assert wait_until(lambda: all(positions.load(c.name) for c in connectors), start_s), (
            "connectors did not start"
        )
        yield
    finally:
        stop.set()
        thread.join(60)
