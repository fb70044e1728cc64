"""Detector snapshots on the real broker: written and read back whole, a write cut short
leaves the previous one, and `start` restores the latest and replays only what follows."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from streamhub.anomaly import state
from streamhub.anomaly.baseline import BaselineConfig
from streamhub.anomaly.codec import INPUT_TOPICS
from streamhub.anomaly.detector import DetectorConfig
from streamhub.anomaly.service import Scope
from streamhub.anomaly.snapshot_log import SnapshotLog
from streamhub.anomaly.startup import StartOptions, start
from streamhub.anomaly.suppression import MaintenanceWindow
from streamhub.anomaly.suppression_log import SuppressionFollower, SuppressionLog
from streamhub.catalog.apply import apply_topics
from streamhub.catalog.load import load_catalog
from streamhub.config import Settings
from streamhub.core.clock import now_ms
from streamhub.kafka.groups import topic_ends
from tests.unit.anomaly.test_service import service, traffic


@pytest.fixture
def tag(settings: Settings) -> Iterator[str]:
    tag = uuid.uuid4().hex[:8]
    yield tag
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topics = [f"_test_anomaly_state_{tag}", f"_test_anomaly_suppressions_{tag}"]
    listed = admin.list_topics(timeout=10).topics
    existing = [t for t in topics if t in listed]
    if existing:
        for deleted in admin.delete_topics(existing).values():
            deleted.result(30)


def test_snapshots_round_trip_and_a_cut_short_write_leaves_the_previous_one(
    settings: Settings, tag: str
) -> None:
    svc, _, _ = service()
    svc.replay(traffic([f"{tag}-his", f"{tag}x-his"], 12, {f"{tag}-his": 8}))
    assert svc.open
    log = SnapshotLog(settings.kafka_bootstrap, f"_test_anomaly_state_{tag}")
    assert log.read_latest() is None
    first = state.dump(svc, {("ops.source_counts", 0): 7}, taken_ms=1)
    log.write(first)
    second = state.dump(svc, {("ops.source_counts", 0): 9}, taken_ms=2)
    log.write(second)
    back = SnapshotLog(settings.kafka_bootstrap, log.topic).read_latest()
    assert back is not None and back.snapshot_id == second.snapshot_id
    assert back.connectors == second.connectors and back.open == second.open
    assert back.offsets == {("ops.source_counts", 0): 9}
    # a third write dies after its connector records, before its manifest
    third = state.dump(svc, {("ops.source_counts", 0): 11}, taken_ms=3)
    records = state.encode(third, 1 - back.generation)[:-1]
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for key, value in records:
        producer.produce(log.topic, key=key, value=value)
    assert producer.flush(30) == 0
    after_crash = SnapshotLog(settings.kafka_bootstrap, log.topic).read_latest()
    assert after_crash is not None and after_crash.snapshot_id == second.snapshot_id
    assert after_crash.connectors == second.connectors


def test_start_restores_the_latest_snapshot_and_replays_only_what_follows(
    settings: Settings, tag: str
) -> None:
    config = DetectorConfig(baseline=BaselineConfig(min_history=3))
    scope = Scope((f"{tag}*",))
    svc, _, _ = service(scope)
    svc.replay(traffic([f"{tag}-his", f"{tag}x-his"], 12, {f"{tag}-his": 8}))
    assert svc.open
    # on a fresh cluster (CI: the first test of the run) nothing has created the inputs yet,
    # and a start rightly refuses to judge every feed silent on topics that do not exist
    inputs = [s for s in load_catalog(settings.project_dir / "topics") if s.name in INPUT_TOPICS]
    apply_topics(AdminClient({"bootstrap.servers": settings.kafka_bootstrap}), inputs)
    ends = topic_ends(settings, list(INPUT_TOPICS))
    log = SnapshotLog(settings.kafka_bootstrap, f"_test_anomaly_state_{tag}")
    log.write(state.dump(svc, ends, taken_ms=now_ms(svc.clock)))
    options = StartOptions(
        detector=config,
        history_ms=3 * 86_400_000,
        scope=scope,
        suppressions_topic=f"_test_anomaly_suppressions_{tag}",
        state_topic=log.topic,
    )
    group = settings.model_copy(update={"anomaly_group": f"test-anomaly-{tag}"})
    restored, follower, warm = start(group, options)
    follower.close()
    assert warm.source.startswith("snapshot ")
    assert "state from snapshot" in warm.describe()
    assert restored.open == svc.open
    assert state.dump(restored, {}).connectors == state.dump(svc, {}).connectors
    assert warm.events == 0  # nothing of this run's connectors came after the snapshot
    assert all(restored.positions[where] >= offset for where, offset in ends.items())


def test_catching_up_on_a_few_suppressions_does_not_wait_out_the_timeout(
    settings: Settings, tag: str
) -> None:
    topic = f"_test_anomaly_suppressions_{tag}"
    writer = SuppressionLog(settings.kafka_bootstrap, topic)
    for i in range(3):
        writer.declare(MaintenanceWindow(f"w{i}", f"I{i}", 1_000, 2_000))
    follower = SuppressionFollower(settings.kafka_bootstrap, topic)
    try:
        started = time.monotonic()
        changes = follower.catch_up(timeout_s=20.0)
        took = time.monotonic() - started
    finally:
        follower.close()
    assert [c.window_id for c in changes if isinstance(c, MaintenanceWindow)] == ["w0", "w1", "w2"]
    assert took < 10.0, took  # it waited the whole timeout for 500 records before
