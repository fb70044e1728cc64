"""Snapshots of the detector: a service restored from one judges exactly as the one it
was taken from, and a day of running holds the baseline's size, not the day's."""

from __future__ import annotations

import copy

import pytest
from prometheus_client import CollectorRegistry

from streamhub.anomaly import state
from streamhub.anomaly.baseline import BaselineConfig, SeasonalCalendar
from streamhub.anomaly.detector import DetectorConfig, TrafficDetector
from streamhub.anomaly.errors import SnapshotError
from streamhub.anomaly.metrics import AnomalyMetrics
from streamhub.anomaly.service import AnomalyService, ReplayClock
from tests.unit.anomaly.scenario import MINUTE, T0, Fault, World, warmed


class _Codec:
    def decode(self, value: bytes, where: object = None) -> dict[str, object]:
        raise AssertionError("not used")

    def encode(self, event: object) -> tuple[bytes, bytes]:
        raise AssertionError("not used")


def _service(world: World) -> AnomalyService:
    clock = ReplayClock(world.clock)
    return AnomalyService(
        world.detector, clock, _Codec(), AnomalyMetrics.create(CollectorRegistry())
    )


def _restored_copy(world: World) -> World:
    """A copy of the world whose detector is a new one restored from a snapshot (through
    its Kafka records) of the world's own."""
    records = state.encode(state.dump(_service(world), {("ops.source_counts", 0): 42}))
    twin = copy.deepcopy(world)
    twin.detector = TrafficDetector(twin.clock, world.detector.config, twin.suppressions)
    service = _service(twin)
    state.restore(service, state.decode(records))
    assert service.positions == {("ops.source_counts", 0): 42}
    return twin


def _comparable(records: list[tuple[bytes, bytes]]) -> list[tuple[bytes, dict[str, object]]]:
    out = []
    for key, value in records:
        unpacked = state._unpack(value)
        unpacked.pop("snapshot_id", None)
        out.append((key, unpacked))
    return out


@pytest.mark.parametrize("compression", [1.0, 360.0])
def test_a_restored_detector_judges_exactly_as_the_one_it_was_taken_from(
    compression: float,
) -> None:
    warm = 400 if compression == 1.0 else 90
    world = warmed(compression, 3, warm, [])
    start = T0 + (warm + 5) * MINUTE
    faults = [
        Fault("outage", "h01", start, start + 4 * MINUTE),
        Fault("burst", "c01", start + 10 * MINUTE, start + 11 * MINUTE, rows=3000),
        Fault("stuck", "h02", start + 15 * MINUTE, start + 25 * MINUTE, table="his.public.charge"),
    ]
    world.faults = faults
    world.run(7)  # the outage is open when the snapshot is taken
    assert world.detector.open_anomalies()
    twin = _restored_copy(world)
    before = len(world.events)
    original, restored = world.run(40)[before:], twin.run(40)[before:]
    assert len(original) >= 4
    assert restored == original
    assert _comparable(state.encode(state.dump(_service(twin), {}))) == _comparable(
        state.encode(state.dump(_service(world), {}))
    )


def test_a_snapshot_under_other_settings_is_refused() -> None:
    world = warmed(360.0, 3, 30, [])
    snapshot = state.dump(_service(world), {})
    other = DetectorConfig(
        baseline=BaselineConfig(seasonal=SeasonalCalendar(compression=144.0), min_history=3)
    )
    service = _service(world)
    service.detector = TrafficDetector(world.clock, other)
    with pytest.raises(SnapshotError, match="other detector settings"):
        state.restore(service, snapshot)


def test_a_snapshot_cut_short_is_refused() -> None:
    world = warmed(360.0, 3, 30, [])
    records = state.encode(state.dump(_service(world), {}))
    with pytest.raises(SnapshotError, match="lacks connector"):
        state.decode(records[1:])
    with pytest.raises(SnapshotError, match="no snapshot manifest"):
        state.decode(records[:-1])
