"""The exporter's reader on the real Kafka: it reads the horizon once, then only what came
since, and what it sees slides with the horizon (this test's own ops topics)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.topic_names import RAW_TOPICS
from streamhub.health.evaluate import evaluate
from streamhub.health.gather import gather
from streamhub.health.model import ActivityWindow, OpsTopics, Status
from streamhub.health.refresh import HealthReader
from streamhub.health.thresholds import Thresholds
from streamhub.kafka.groups import pin_to_end
from streamhub.land.targets import DEFAULT_ROUTES
from streamhub.serde.avro_serde import AvroSerde

INST = "12350203000000011X"
# the checks' time, a minute boundary; the records are stamped before it (the broker
# refuses timestamps far in the future)
NOW = int(time.time() * 1000) // 60_000 * 60_000
LIMITS = Thresholds()


class Ops:
    """Writes ops records as the capture agent and the lander do (keys included)."""

    def __init__(self, settings: Settings, topics: OpsTopics) -> None:
        serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        schemas = settings.project_dir / "avro_schemas"
        self.serde = serde
        self.topics = topics
        self.writers = {
            topic: serde.register(f"{topic}-value", load_schema(schemas, path))
            for topic, path in (
                (topics.heartbeat, "ops/heartbeat.avsc"),
                (topics.landed_counts, "ops/landed_counts.avsc"),
                (topics.source_counts, "ops/source_counts.avsc"),
            )
        }
        self.producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
        self.refused: list[str] = []

    def send(self, topic: str, key: str, value: dict[str, Any], ts: int) -> None:
        data = self.serde.encode(self.writers[topic], value)
        self.producer.produce(topic, data, key.encode(), timestamp=ts, on_delivery=self._done)

    def _done(self, error: Any, _message: Any) -> None:
        if error is not None:
            self.refused.append(str(error))

    def beat(self, connector: str, ts: int, events: int) -> None:
        self.send(
            self.topics.heartbeat,
            json.dumps({"connector": connector}),
            {
                "connector": connector,
                "institution_id": INST,
                "system": "his",
                "engine": "postgresql",
                "state": "streaming",
                "lag_ms": 200,
                "last_event_ts_ms": ts - 200,
                "events_total": events,
                "errors_total": 0,
                "emitted_ts_ms": ts,
            },
            ts,
        )

    def counts(self, start: int) -> None:
        key = {"connector": "h-his", "table": "public.t", "window": start}
        self.send(
            self.topics.source_counts,
            json.dumps(key, sort_keys=True),
            {
                "connector": "h-his",
                "institution_id": INST,
                "system": "his",
                "database": "his",
                "table": "public.t",
                "window_start_ms": start,
                "inserts": 3,
                "updates": 0,
                "deletes": 0,
                "emitted_ts_ms": start + 65_000,
            },
            start + 65_000,
        )

    def landed(self, start: int, at: int) -> None:
        self.send(
            self.topics.landed_counts,
            f"{INST}|public.t|{start}",
            {
                "institution_id": INST,
                "system": "his",
                "table": "public.t",
                "entity": "encounter",
                "window_start_ms": start,
                "upserts": 3,
                "deletes": 0,
                "landed_ts_ms": at,
                "versions": [1, 2, 3],
            },
            at,
        )

    def flush(self) -> None:
        assert self.producer.flush(30) == 0
        assert not self.refused, self.refused


def test_the_reader_reads_the_horizon_once_then_only_what_came_since(
    settings: Settings, new_topic: Callable[..., str], unique: Callable[[str], str], tmp_path: Path
) -> None:
    topics = OpsTopics(
        heartbeat=new_topic("test-health-beat", 2),
        source_counts=new_topic("test-health-counts", 2),
        landed_counts=new_topic("test-health-landed", 2),
        dead_letters=(new_topic("test-health-dlq"),),
    )
    # no connector files; this test's stage groups, at the ends of the shared raw and std
    # topics (other runs' backlogs are not this link's)
    groups = {
        "standardize_group": unique("test-health-std"),
        "lander_group": unique("test-health-land"),
    }
    settings = settings.model_copy(update={"connectors_dir": tmp_path, **groups})
    pin_to_end(settings, settings.standardize_group, list(RAW_TOPICS))
    pin_to_end(settings, settings.lander_group, list(DEFAULT_ROUTES))
    ops = Ops(settings, topics)
    start = NOW - 900_000
    for i, ts in enumerate(range(start, NOW, 5_000)):
        ops.beat("h-his", ts, events=i)
        if i < 60:  # a second connector silent for the last 10 minutes
            ops.beat("h-lis", ts, events=i)
    for minute in range(start, NOW - 60_000, 60_000):
        ops.counts(minute)
        if minute < NOW - 300_000:  # nothing landed for the last five minutes
            ops.landed(minute, minute + 61_000)
    ops.flush()

    one_check = gather(settings, LIMITS, now_ms=NOW, topics=topics)
    reader = HealthReader(settings, LIMITS, topics=topics)
    try:
        first = reader.refresh(NOW)
        assert evaluate(first, LIMITS) == evaluate(one_check, LIMITS)
        [health] = evaluate(first, LIMITS)
        assert health.hop("capture").status is Status.DOWN  # h-lis silent
        assert health.hop("center").status is Status.DEGRADED  # 5 min not landed
        assert first.activity[0] == ActivityWindow(INST, NOW - 300_000)  # the first unlanded
        assert len(first.beats["h-his"]) == 61  # the recent window and the one before
        # ten seconds later: two new beats, and everything lands
        ops.beat("h-his", NOW, events=500)
        ops.beat("h-lis", NOW + 1_000, events=100)
        ops.landed(NOW - 120_000, NOW + 2_000)
        ops.flush()
        later = reader.refresh(NOW + 10_000)
        [health] = evaluate(later, LIMITS)
        assert health.overall is Status.HEALTHY, health.reason
        assert later.beats["h-lis"][-1].emitted_ts_ms == NOW + 1_000
        assert later.activity == ()
        # an hour later with nothing new: everything left the horizon
        assert reader.refresh(NOW + 3_600_000).beats == {}
    finally:
        reader.close()
