"""Debezium's snapshot reads counted per table and minute, once per read (its key and the
snapshot's position), and written by the log counter into the same minute records."""

from __future__ import annotations

from typing import Any

from streamhub.capture.counts import MINUTE_MS, WindowCounts
from streamhub.debezium.counts_log import counts_record
from streamhub.debezium.counts_snapshot import SnapshotReadCounts
from streamhub.reconcile.inputs import SourceWindow, source_from_avro

from ..capture.task_fakes import connector
from .samples import PATIENT_KEY, PATIENT_ROW, POSTGRES_SOURCE, ROW, key_message, value_message

MINUTE = 1_772_440_200_000


def _read(row_id: int, read_ms: int, lsn: int = 24_023_128, op: str = "r") -> tuple[bytes, bytes]:
    source: dict[str, Any] = POSTGRES_SOURCE | {"ts_ms": read_ms, "lsn": lsn, "snapshot": "true"}
    if op != "r":
        source["snapshot"] = "false"
    row = ROW | {"id": row_id}
    value = value_message(PATIENT_ROW, op=op, before=None, after=row, source=source)
    return key_message(PATIENT_KEY, {"id": row_id}), value


def test_reads_count_in_the_minute_of_their_read_time_once_each() -> None:
    counts = SnapshotReadCounts()
    grew = [counts.add(*_read(i, MINUTE + 59_000 + i * 500)) for i in range(4)]
    assert grew[0] == ("his.public.patient", MINUTE, MINUTE + 59_000)
    assert grew[2] == ("his.public.patient", MINUTE + MINUTE_MS, MINUTE + 60_000)
    assert counts.reads("his.public.patient", MINUTE) == 2
    assert counts.reads("his.public.patient", MINUTE + MINUTE_MS) == 2
    # Connect sends a read again after a crash: same key, same snapshot position
    assert counts.add(*_read(1, MINUTE + 59_500)) is None
    assert counts.total == 4


def test_a_snapshot_run_again_at_a_new_position_counts_again_as_it_lands_again() -> None:
    counts = SnapshotReadCounts()
    counts.add(*_read(1, MINUTE + 1_000, lsn=100))
    assert counts.add(*_read(1, MINUTE + 2_000, lsn=200)) is not None
    assert counts.reads("his.public.patient", MINUTE) == 2


def test_streamed_changes_tombstones_and_undecodable_reads_are_not_reads() -> None:
    counts = SnapshotReadCounts()
    assert counts.add(*_read(1, MINUTE, op="c")) is None
    assert counts.add(b"{}", None) is None
    key, _ = _read(2, MINUTE)
    assert counts.add(key, b'{"schema":{},"payload":{"op":"r"}}') is None
    assert counts.skipped == 1 and counts.total == 0


def test_the_minute_record_carries_the_log_counts_and_the_snapshot_reads() -> None:
    config = connector(name="xm-his", capture_engine="debezium")
    window = WindowCounts("his.public.patient", MINUTE, 3, 2, 1, 1)  # 'r' slot: a marker only
    record = counts_record(config, window, MINUTE + 70_000, snapshot_reads=40)
    source = source_from_avro(record)
    assert isinstance(source, SourceWindow)
    assert (source.inserts, source.updates, source.deletes, source.snapshot_reads) == (3, 2, 1, 40)
    assert source.changes == 46
