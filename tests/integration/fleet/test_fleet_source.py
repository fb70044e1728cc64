"""`streamhub simulate fleet` against the real Kafka and registry: what it wrote is what its
ledger says, decodes under the registered schemas, and the standardizer takes it whole."""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.counts import MINUTE_MS
from streamhub.config import Settings
from streamhub.core.topic_names import DLQ_STANDARDIZE, HEARTBEAT, SOURCE_COUNTS, raw_topic
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.messages import RawMessage
from streamhub.standardize.pipeline import Standardizer
from streamhub.standardize.profile import load_profiles
from streamhub.standardize.pseudonym import Pseudonymizer
from tests.integration.commands import run_streamhub

RAW = [raw_topic(s) for s in ("his", "emr", "lis", "pacs")]
TOPICS = [*RAW, HEARTBEAT, SOURCE_COUNTS]


def _consumer(settings: Settings) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": "test-fleet-reader",
            "enable.auto.commit": False,
        }
    )


def _ends(consumer: Consumer) -> dict[tuple[str, int], int]:
    ends = {}
    for topic in TOPICS:
        for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            ends[(topic, partition)] = high
    return ends


def _read(
    consumer: Consumer, start: dict[tuple[str, int], int], end: dict[tuple[str, int], int]
) -> list[RawMessage]:
    wanted = {tp: (start.get(tp, 0), high) for tp, high in end.items() if high > start.get(tp, 0)}
    consumer.assign([TopicPartition(t, p, low) for (t, p), (low, _) in wanted.items()])
    left = set(wanted)
    out: list[RawMessage] = []
    while left:
        message = consumer.poll(10)
        assert message is not None, f"partitions not read to their end: {sorted(left)}"
        assert message.error() is None, message.error()
        tp = (message.topic(), message.partition())
        if tp not in left or message.offset() >= wanted[tp][1]:
            continue
        out.append(
            RawMessage(
                tp[0],
                tp[1],
                message.offset(),
                message.key(),
                message.value(),
                message.timestamp()[1],
            )
        )
        if message.offset() + 1 >= wanted[tp][1]:
            left.discard(tp)
    return out


def test_the_fleet_writes_what_its_ledger_says_and_the_standardizer_takes_it(
    settings: Settings, tmp_path: Path
) -> None:
    consumer = _consumer(settings)
    before = _ends(consumer)
    connectors = tmp_path / "connectors"
    ledger_path = tmp_path / "ledger.json"
    seed = random.randrange(10**6)  # ids of their own: other runs' envelopes share the topics
    result = run_streamhub(
        "simulate", "fleet", "--institutions", "10", "--seed", str(seed),
        "--start", "2026-03-02T09:00", "--duration", "25s", "--peak-rate", "300",
        "--fault", "burst:h0001@5s,rows=200", "--fault", "silent:c0002@0s,system=lis",
        "--ledger", str(ledger_path), "--connectors-out", str(connectors),
        env={**os.environ, "STREAMHUB_DATA_DIR": str(tmp_path / "data"),
             "STREAMHUB_PROJECT_DIR": str(settings.project_dir)},
        cwd=settings.project_dir,
        timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "emitted" in result.stdout and str(ledger_path) in result.stdout
    ledger: dict[str, Any] = json.loads(ledger_path.read_text(encoding="utf-8"))
    ids = {i["institution_id"] for i in ledger["institutions"]}
    assert len(ids) == 10 and len(list(connectors.glob("fleet-*.yaml"))) == 24

    messages = _read(consumer, before, _ends(consumer))
    consumer.close()
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    raw = [
        m
        for m in messages
        if m.topic in RAW and json.loads(m.key or b"{}").get("institution_id") in ids
    ]
    sent: Counter[tuple[str, str, int]] = Counter()
    for message in raw:
        source = serde.decode(message.value).value["source"]  # the registered schema
        table = ".".join(p for p in (source["database"], source["schema"], source["table"]) if p)
        sent[
            (
                source["institution_id"],
                table,
                source["commit_ts_ms"] - source["commit_ts_ms"] % MINUTE_MS,
            )
        ] += 1
    counted = {(i, t, m): c + u + d for i, t, m, c, u, d in ledger["minutes"]}
    assert dict(sent) == counted and ledger["emitted"] == len(raw) > 1000

    ops = [serde.decode(m.value).value for m in messages if m.topic in (HEARTBEAT, SOURCE_COUNTS)]
    ours = [o for o in ops if o["institution_id"] in ids]
    beating = {o["connector"] for o in ours if "state" in o}
    assert "fleet-c0002-lis" not in beating and "fleet-c0002-his" in beating
    assert len(beating) == 23
    windows = {
        (o["institution_id"], f"{o['database']}.{o['table']}", o["window_start_ms"]):
        o["inserts"] + o["updates"] + o["deletes"]
        for o in ours if "window_start_ms" in o
    }  # fmt: skip
    assert windows == counted  # the agents' own per-minute counts
    silent = next(i["institution_id"] for i in ledger["institutions"] if i["key"] == "c0002")
    assert any(i == silent for i, _, n in ledger["held"])  # its LIS changes never left

    standardizer = Standardizer(
        serde,
        connectors,
        load_profiles(settings.profiles_path),
        Pseudonymizer(b"test-key-of-at-least-16-bytes"),
        settings.project_dir,
    )
    out = standardizer.process(raw)
    letters = [serde.decode(m.value).value for m in out if m.topic == DLQ_STANDARDIZE]
    assert letters == []
    assert sum(m.topic.startswith("std.") for m in out) == len(raw)
