"""The fleet's whole loop on a manual clock, writing to a recording producer and an
in-memory schema registry: what goes out, the ledger, determinism, faults."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)

from streamhub.capture.counts import MINUTE_MS
from streamhub.config import Settings
from streamhub.core.clock import ManualClock
from streamhub.core.topic_names import HEARTBEAT, SOURCE_COUNTS
from streamhub.fleet.errors import FleetFaultError
from streamhub.fleet.faults import FleetControl, parse_fault
from streamhub.fleet.pacing import Pacing
from streamhub.fleet.run import Fleet, FleetOptions, FleetReport
from streamhub.serde.avro_serde import AvroSerde

START = datetime(2026, 3, 2, 9, 0)


class RecordingProducer:
    """What the fleet hands to Kafka, acknowledged at once."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, bytes]] = []

    def produce(
        self, topic: str, value: bytes, key: bytes, on_delivery: Callable[[Any, Any], None]
    ) -> None:
        self.messages.append((topic, key, value))
        on_delivery(None, None)

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self, _timeout: float) -> int:
        return 0

    def on(self, prefix: str) -> list[tuple[str, bytes, bytes]]:
        return [m for m in self.messages if m[0].startswith(prefix)]


def _run(
    tmp_path: Path,
    *,
    seed: int = 1,
    institutions: int = 3,
    faults: tuple[str, ...] = (),
    duration_s: float = 20.0,
    paced: bool = False,
    control: FleetControl | None = None,
) -> tuple[Fleet, FleetReport, RecordingProducer, AvroSerde]:
    producer = RecordingProducer()
    serde = AvroSerde(MockSchemaRegistryClient({"url": f"mock://fleet-{seed}-{tmp_path.name}"}))
    options = FleetOptions(
        start=START,
        institutions=institutions,
        seed=seed,
        duration_s=duration_s,
        pacing=Pacing(day_minutes=20, peak_rate=400),
        faults=tuple(parse_fault(f) for f in faults),
        paced=paced,
    )
    fleet = Fleet(
        Settings(),
        options,
        tmp_path / f"ledger-{seed}.json",
        clock=ManualClock(1_772_413_200.0),
        producer=producer,  # type: ignore[arg-type]
        serde=serde,
        control=control,
    )
    return fleet, fleet.run(), producer, serde


def test_the_ledger_counts_exactly_the_envelopes_sent(tmp_path: Path) -> None:
    fleet, report, producer, serde = _run(tmp_path, paced=True)
    raw = producer.on("cdc.raw.")
    assert report.emitted == len(raw) > 500
    sent: Counter[tuple[str, str, int]] = Counter()
    for _topic, _key, value in raw:
        envelope = serde.decode(value).value
        source = envelope["source"]
        table = ".".join(p for p in (source["database"], source["schema"], source["table"]) if p)
        minute = source["commit_ts_ms"] - source["commit_ts_ms"] % MINUTE_MS
        sent[(source["institution_id"], table, minute)] += 1
    ledger = json.loads(report.ledger_path.read_text(encoding="utf-8"))
    counted = {(i, t, m): c + u + d for i, t, m, c, u, d in ledger["minutes"]}
    assert counted == dict(sent)
    assert ledger["emitted"] == report.emitted
    assert sum(sum(v) for v in ledger["by_table"].values()) == report.emitted
    # the agents' own per-minute counts say the same (latest window wins)
    windows: dict[tuple[str, str, int], int] = {}
    for _topic, _key, value in producer.on(SOURCE_COUNTS):
        w = serde.decode(value).value
        table = f"{w['database']}.{w['table']}"
        windows[(w["institution_id"], table, w["window_start_ms"])] = (
            w["inserts"] + w["updates"] + w["deletes"]
        )
    assert windows == counted
    # every connector heartbeats; the run spans several minutes of the wall clock
    beating = {serde.decode(v).value["connector"] for _t, _k, v in producer.on(HEARTBEAT)}
    assert beating == {c.config.name for c in fleet.connectors}
    assert len({m for _, _, m in counted}) >= 1


def test_updates_carry_the_whole_row_and_keys_follow_the_capture_agent(tmp_path: Path) -> None:
    _, _, producer, serde = _run(tmp_path)
    updates = [
        (key, serde.decode(value).value)
        for _t, key, value in producer.on("cdc.raw.his")
        if serde.decode(value).value["op"] == "u"
    ]
    assert updates
    for key, envelope in updates[:50]:
        after = envelope["after"]
        assert sum(v is not None for v in after.values()) >= 5  # a full image, not the diff
        assert json.loads(key)["institution_id"] == envelope["source"]["institution_id"]


def test_the_same_seed_writes_the_same_bytes_another_seed_not(tmp_path: Path) -> None:
    _, first, one, _ = _run(tmp_path / "a", duration_s=8)
    _, second, two, _ = _run(tmp_path / "b", duration_s=8)
    _, _, three, _ = _run(tmp_path / "c", seed=2, duration_s=8)
    assert first.emitted == second.emitted
    assert one.on("cdc.raw.") == two.on("cdc.raw.")
    assert one.on("cdc.raw.") != three.on("cdc.raw.")


def test_a_stuck_feed_heartbeats_and_sends_nothing_a_silent_one_neither(
    tmp_path: Path,
) -> None:
    fleet, report, producer, serde = _run(
        tmp_path, faults=("stuck:h0001", "silent:c0001,system=lis"), paced=True
    )
    h1 = fleet.by_name["h0001"]
    c1 = fleet.by_name["c0001"]
    ids = Counter(
        serde.decode(v).value["source"]["institution_id"] for _t, _k, v in producer.on("cdc.raw.")
    )
    assert ids[h1.institution.credit_code] == 0 and ids[c1.institution.credit_code] > 0
    beats = Counter(serde.decode(v).value["connector"] for _t, _k, v in producer.on(HEARTBEAT))
    assert beats["fleet-h0001-his"] > 0  # stuck: heartbeats go on
    assert beats["fleet-c0001-lis"] == 0 and beats["fleet-c0001-his"] > 0  # silent: none
    ledger = json.loads(report.ledger_path.read_text(encoding="utf-8"))
    held = {(i, t): n for i, t, n in ledger["held"]}
    assert sum(n for (i, _), n in held.items() if i == h1.institution.credit_code) > 0
    assert [f["fault"] for f in ledger["faults"]] == ["stuck", "silent"]


def test_a_stuck_feed_sends_what_it_held_once_it_moves(tmp_path: Path) -> None:
    fleet, report, producer, serde = _run(tmp_path, faults=("stuck:h0001@0s+5s",), paced=True)
    ledger = json.loads(report.ledger_path.read_text(encoding="utf-8"))
    assert ledger["held"] == []
    h1 = fleet.by_name["h0001"].institution.credit_code
    envelopes = [serde.decode(v).value for _t, _k, v in producer.on("cdc.raw.")]
    waited = [
        e["ts_ms"] - e["source"]["commit_ts_ms"]
        for e in envelopes
        if e["source"]["institution_id"] == h1
    ]
    # committed at the source during the spell, sent when it ended, with their commit times
    assert max(waited) >= 4_000 and min(waited) == 0
    assert report.emitted == len(producer.on("cdc.raw."))


def test_an_outage_stops_the_institutions_changes_a_burst_adds_them(tmp_path: Path) -> None:
    fleet, report, producer, serde = _run(
        tmp_path, faults=("outage:c0001@0s+10m", "burst:h0001@0s,rows=300")
    )
    ids = Counter(
        serde.decode(v).value["source"]["institution_id"] for _t, _k, v in producer.on("cdc.raw.")
    )
    assert ids[fleet.by_name["c0001"].institution.credit_code] == 0
    burst = next(
        f for f in json.loads(report.ledger_path.read_text())["faults"] if f["fault"] == "burst"
    )
    assert burst["rows"] == 300


def test_a_fault_for_an_unknown_institution_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FleetFaultError, match="no institution 'h0099'"):
        _run(tmp_path, faults=("outage:h0099@0s+1m",))


def test_faults_arrive_through_the_control_directory(tmp_path: Path) -> None:
    control = FleetControl(tmp_path / "control")
    control.send(parse_fault("silent:h0001"))
    _, report, producer, serde = _run(tmp_path, control=control, paced=True, duration_s=5)
    beats = Counter(serde.decode(v).value["connector"] for _t, _k, v in producer.on(HEARTBEAT))
    assert beats["fleet-h0001-his"] <= 1  # at most the one before the command was read
    assert report.faults == ["silent:h0001@0s"]


def test_a_command_that_cannot_apply_is_refused_and_the_run_goes_on(tmp_path: Path) -> None:
    control = FleetControl(tmp_path / "control")
    control.send(parse_fault("outage:h0099+1m"))
    control.send(parse_fault("stuck:c0001,system=pacs"))
    _, report, producer, _ = _run(tmp_path, control=control, paced=True, duration_s=5)
    assert report.faults == [] and len(report.refused) == 2
    assert "no institution 'h0099'" in report.refused[0] and "runs no pacs" in report.refused[1]
    assert report.emitted == len(producer.on("cdc.raw.")) > 0
    assert json.loads(report.ledger_path.read_text(encoding="utf-8"))["refused"] == report.refused


def test_a_scheduled_fault_that_cannot_apply_fails_before_anything_is_sent(tmp_path: Path) -> None:
    with pytest.raises(FleetFaultError, match="no 'diagnosis' rows to update"):
        _run(tmp_path, faults=("burst:h0001@1s,entity=diagnosis",))
