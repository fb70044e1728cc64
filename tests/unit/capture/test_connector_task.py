"""ConnectorTask on fakes and a manual clock: the checkpoint rule, counts and heartbeats as
time passes, snapshot chunks, re-snapshot answers after the acks, dead letters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streamhub.capture.errors import DeliveryFailedError, PositionStoreError
from streamhub.capture.model import UndecodableValue
from streamhub.capture.signals import SnapshotRequest
from streamhub.capture.task import CHECKPOINT_EVERY_S

from .task_fakes import PASSWORD_ENV, TABLE, Harness, Source, connector

MINUTE_MS = 60_000
T0_MS = 1_767_225_630_000  # 2026-01-01T00:00:30Z, the harness's start
MINUTE0 = T0_MS - T0_MS % MINUTE_MS


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(PASSWORD_ENV, "secret")
    yield


def streaming(**stored: object) -> Harness:
    """A task that resumes streaming from a stored position (no snapshot to take)."""
    return Harness(stored={"resume": "0/64", "snapshot": {}, "counts": [], **stored})


# --- the checkpoint rule ----------------------------------------------------------------


def test_a_position_is_stored_and_confirmed_only_after_kafka_acknowledged_its_changes() -> None:
    h = streaming()
    assert h.positions.resumes == ["0/64"]  # the start is a position of its own
    resume = h.source.commit("c", 1, "张三", T0_MS)
    h.step(2)  # read the transaction, then idle: a checkpoint is taken, not yet safe
    assert [e.after for e in h.sent.changes] == [{"id": 1, "name": "张三"}]
    assert resume not in h.positions.resumes
    assert h.source.confirmed == []
    h.sent.ack()
    h.step()
    assert h.positions.resumes[-1] == resume
    assert h.source.confirmed == [resume]
    assert h.task.stored is not None and h.task.stored["resume"] == resume


def test_no_checkpoint_inside_a_transaction() -> None:
    h = streaming()
    h.source.commit("c", 1, "a", T0_MS)
    h.source.log.pop()  # the transaction's end has not been read yet
    h.step()
    h.sent.ack()
    h.clock.advance(1)
    h.step(2)
    assert h.positions.resumes == ["0/64"]
    assert h.source.confirmed == []


def test_while_busy_a_checkpoint_is_taken_every_interval_not_every_batch() -> None:
    h = streaming()
    h.source.commit("c", 1, "a", T0_MS)
    h.step()  # events read: no checkpoint yet (the interval has not passed)
    h.sent.ack()
    h.source.commit("c", 2, "b", T0_MS)
    h.step()  # busy again, the clock still
    assert h.positions.resumes == ["0/64"]
    second = h.source.commit("c", 3, "c", T0_MS)
    h.clock.advance(CHECKPOINT_EVERY_S)
    h.step()  # busy, but the interval has passed
    h.sent.ack()
    h.step()
    assert h.positions.resumes[-1] == second


def test_a_failed_delivery_stops_the_task_without_storing_past_it() -> None:
    h = streaming()
    h.source.commit("c", 1, "a", T0_MS)
    h.step(2)
    h.sent.ack(error="broker down")
    with pytest.raises(DeliveryFailedError, match="broker down"):
        h.step()
    assert h.positions.resumes == ["0/64"]


def test_a_position_write_in_flight_does_not_hold_the_connector_and_confirms_when_acked() -> None:
    h = streaming()
    h.positions.hold_acks = True
    first = h.source.commit("c", 1, "a", T0_MS)
    h.step(2)
    h.sent.ack()
    h.step()  # safe: its write is sent, not yet acknowledged
    assert h.positions.sent[-1]["resume"] == first
    assert h.source.confirmed == [] and h.task.stored is not None
    assert h.task.stored["resume"] == "0/64"  # what heartbeats report: the stored position
    second = h.source.commit("c", 2, "b", T0_MS)
    third = h.source.commit("c", 3, "c", T0_MS)
    h.step(2)  # the connector reads and sends on while the write is in flight
    assert [e.after["id"] for e in h.sent.changes if e.after] == [1, 2, 3]
    h.sent.ack()
    h.step()
    assert [s["resume"] for s in h.positions.sent] == ["0/64", first]  # one write in flight
    h.positions.ack_writes()
    h.step()  # the first write's acknowledgement: confirm it, send the newest safe one
    assert h.source.confirmed == [first] and h.task.stored["resume"] == first
    assert h.positions.sent[-1]["resume"] == third  # `second` was superseded, never sent
    assert second not in [s["resume"] for s in h.positions.sent]
    h.positions.ack_writes()
    h.step()
    assert h.source.confirmed == [first, third]


def test_a_refused_position_write_stops_the_task_without_confirming_the_source() -> None:
    h = streaming()
    h.positions.hold_acks = True
    h.source.commit("c", 1, "a", T0_MS)
    h.step(2)
    h.sent.ack()
    h.step()
    h.positions.ack_writes(error="not enough replicas")
    with pytest.raises(PositionStoreError, match="not enough replicas"):
        h.step()
    assert h.source.confirmed == [] and h.positions.resumes == ["0/64"]


def test_an_idle_connector_does_not_write_an_unchanged_position_again() -> None:
    h = streaming()
    resume = h.source.commit("c", 1, "a", T0_MS)
    h.step(2)
    h.sent.ack()
    h.step(5)
    assert h.positions.resumes == ["0/64", resume]


def test_on_stop_the_open_minutes_are_counted_and_the_last_position_stored() -> None:
    h = Harness(stored={"resume": "0/64", "snapshot": {}, "counts": []}, start=False)
    resume = h.source.commit("c", 1, "a", T0_MS)
    polls = 0

    def poll_then_stop() -> list[SnapshotRequest]:
        nonlocal polls
        polls += 1
        if polls == 2:
            h.task.stop.set()
        return []

    h.signals.poll = poll_then_stop  # type: ignore[method-assign]
    h.task.run()
    [record] = h.sent.records("ops.source_counts")  # the minute is not over: provisional
    assert (record["window_start_ms"], record["inserts"]) == (MINUTE0, 1)
    assert h.positions.resumes[-1] == resume  # stored once the flush delivered everything
    assert h.source.confirmed[-1] == resume
    assert h.readers is not None and h.readers[0].closed


# --- counts and heartbeats as the clock moves --------------------------------------------


def test_a_minutes_counts_are_emitted_once_the_idle_clock_passes_its_end_and_grace() -> None:
    h = streaming()
    h.source.commit("c", 1, "a", T0_MS)
    h.source.commit("u", 1, "b", T0_MS + 1_000)
    h.step(2)
    assert h.sent.records("ops.source_counts") == []  # the minute is not over
    h.clock.set((MINUTE0 + MINUTE_MS + 4_000) / 1000)  # over, but within the 5 s grace
    h.step()
    assert h.sent.records("ops.source_counts") == []
    h.clock.advance(1.0)
    h.step()
    [record] = h.sent.records("ops.source_counts")
    assert (record["window_start_ms"], record["inserts"], record["updates"]) == (MINUTE0, 1, 1)
    assert record["table"] == "public.patient" and record["database"] == "his"
    assert record["emitted_ts_ms"] == h.now_ms()
    h.clock.advance(60)
    h.step()
    assert len(h.sent.records("ops.source_counts")) == 1  # a window is emitted once


def test_a_heartbeat_every_heartbeat_s_of_the_clock_with_the_stored_position() -> None:
    h = streaming()
    resume = h.source.commit("c", 1, "a", T0_MS - 2_000)
    h.step(2)
    assert h.sent.records("ops.heartbeat") == []
    h.sent.ack()
    h.clock.advance(4.9)
    h.step()
    assert h.sent.records("ops.heartbeat") == []
    h.clock.advance(0.1)
    h.step()
    [beat] = h.sent.records("ops.heartbeat")
    assert beat["position"] == resume and beat["state"] == "streaming"
    assert beat["lag_ms"] == 0  # idle: read to the head
    assert beat["last_event_ts_ms"] == T0_MS - 2_000
    assert (beat["events_total"], beat["errors_total"], beat["lag_bytes"]) == (1, 0, 7)
    assert beat["emitted_ts_ms"] == h.now_ms()
    h.clock.advance(5)
    h.step()
    assert len(h.sent.records("ops.heartbeat")) == 2


def test_while_behind_the_heartbeat_lag_is_the_clock_minus_the_last_commit() -> None:
    h = streaming()
    h.clock.advance(5)
    h.source.commit("c", 1, "a", h.now_ms() - 3_000)
    h.step()  # events read in this step: not idle
    [beat] = h.sent.records("ops.heartbeat")
    assert beat["lag_ms"] == 3_000


def test_row_counts_are_read_between_watermarks_every_row_count_s() -> None:
    h = Harness(
        config=connector(row_count_s=60),
        source=Source({1: "a", 2: "b"}),
        stored={"resume": "0/64", "snapshot": {}, "counts": []},
    )
    h.step(2)
    assert h.source.watermarks == []
    h.clock.advance(60)
    h.step()  # the probe counts between its marks, then reads them from the log
    assert [kind for kind, _ in h.source.watermarks] == ["low", "high"]
    probe_id = h.source.watermarks[0][1]
    [record] = [r for r in h.sent.records("ops.source_counts") if r["row_count"] is not None]
    assert record["row_count"] == 2
    assert record["row_count_position"] == f"0/64@{probe_id}"
    assert record["window_start_ms"] == (h.now_ms() - h.now_ms() % MINUTE_MS)
    h.step(3)
    assert len(h.source.watermarks) == 2  # the next probe waits another row_count_s


# --- snapshots --------------------------------------------------------------------------


def test_an_initial_snapshot_reads_chunks_between_watermarks_and_marks_the_last_row() -> None:
    rows = {i: f"p{i}" for i in range(1, 26)}
    h = Harness(
        config=connector(snapshot={"mode": "initial", "chunk_rows": 10}), source=Source(rows)
    )
    assert h.task.state_name == "snapshotting"
    h.step(6)
    reads = [e for e in h.sent.changes if e.op == "r"]
    assert [e.after["id"] for e in reads if e.after] == list(range(1, 26))
    assert [e.snapshot for e in reads].count("last") == 1 and reads[-1].snapshot == "last"
    assert all(e.commit_ts_ms == T0_MS for e in reads)  # stamped by the clock when read
    assert h.task.state_name == "streaming"
    assert h.task.plan.progress["his.public.patient"] == {"after": [25], "done": True, "rows": 25}


def test_a_change_logged_between_a_chunks_watermarks_wins_over_the_copy_read() -> None:
    h = Harness(config=connector(snapshot={"mode": "initial"}), source=Source({1: "old"}))
    reader = h.task.snapshot_reader
    chunk = reader.chunk

    def chunk_then_update(*args: object) -> object:
        read = chunk(*args)  # type: ignore[arg-type]
        h.source.commit("u", 1, "new", T0_MS)  # committed after the read, before the high mark
        return read

    reader.chunk = chunk_then_update  # type: ignore[method-assign]
    h.source.log.clear()
    h.step()
    # low mark, the update, high mark: the chunk's copy of row 1 is superseded
    assert [(e.op, e.after) for e in h.sent.changes] == [("u", {"id": 1, "name": "new"})]


# --- re-snapshot requests and their answers ---------------------------------------------------


def keyed(request_id: str, *ids: int, table: str = "patient") -> SnapshotRequest:
    return SnapshotRequest("xm-his", table, request_id, [{"id": i} for i in ids])


def test_a_keyed_re_read_is_answered_only_after_kafka_acknowledged_its_rows() -> None:
    h = Harness(source=Source({1: "a", 2: "b"}), stored={"resume": "0/64", "snapshot": {}})
    h.signals.requests.append(keyed("r1", 1, 3))
    h.step()
    reads = [e for e in h.sent.changes if e.op == "r"]
    assert [e.after for e in reads] == [{"id": 1, "name": "a"}]
    assert h.signals.replies == []  # its envelope is not acknowledged yet
    h.step()
    assert h.signals.replies == []
    h.sent.ack()
    h.step()
    [(done, error)] = h.signals.replies
    assert error is None and done.request_id == "r1" and done.table == "his.public.patient"
    assert [(r.key, r.position_seq) for r in done.read] == [({"id": 1}, reads[0].position_seq)]
    assert done.not_found == [{"id": 3}] and done.rows == 1


def test_answers_leave_in_request_order_even_when_acks_arrive_together() -> None:
    h = Harness(source=Source({1: "a", 2: "b"}), stored={"resume": "0/64", "snapshot": {}})
    h.signals.requests += [keyed("first", 1), keyed("second", 2)]
    h.step(3)
    assert h.signals.replies == []
    h.sent.ack()
    h.step()
    assert [done.request_id for done, _ in h.signals.replies] == ["first", "second"]


def test_a_request_for_an_unknown_table_or_a_bad_key_is_refused_at_once() -> None:
    h = streaming()
    h.signals.requests += [keyed("nope", 1, table="visit"), keyed("bad", 1)]
    h.signals.requests[-1] = SnapshotRequest("xm-his", "patient", "bad", [{"ID": 1}])
    h.step(2)
    assert [(done.request_id, error is not None) for done, error in h.signals.replies] == [
        ("nope", True),
        ("bad", True),
    ]
    assert "names no single table" in str(h.signals.replies[0][1])
    assert "does not match the primary key" in str(h.signals.replies[1][1])
    assert h.sent.changes == []


def test_a_whole_table_request_is_answered_when_the_tables_snapshot_ends() -> None:
    h = Harness(
        config=connector(snapshot={"mode": "never", "chunk_rows": 10}),
        source=Source({i: "x" for i in range(1, 16)}),
        stored={"resume": "0/64", "snapshot": {}},
    )
    h.signals.requests.append(SnapshotRequest("xm-his", "public.patient", "whole"))
    h.step()
    assert h.task.state_name == "snapshotting"
    h.sent.ack()
    h.step()
    assert h.signals.replies == []  # the last chunk is read, its rows not acknowledged
    h.step(2)
    h.sent.ack()
    h.step()
    [(done, error)] = h.signals.replies
    assert (done.request_id, done.rows, error) == ("whole", 15, None)
    assert h.task.state_name == "streaming"


# --- dead letters -----------------------------------------------------------------------


def test_an_undecodable_value_is_a_dead_letter_and_an_error_the_row_still_flows() -> None:
    h = streaming()
    h.source.log.append(
        UndecodableValue(TABLE, "c", "name", b"\xff\xfe", "not gbk", {"id": 7}, "0/70", 112, 1)
    )
    h.source.commit("c", 7, "", T0_MS)
    h.step()
    [letter] = h.sent.letters
    assert letter["error_type"] == "UndecodableValue" and letter["raw"] == b"\xff\xfe"
    assert letter["table"] == "his.public.patient"
    assert letter["key"] == b'{"id":7}'  # the row key as canonical JSON
    assert "column name of his.public.patient at 0/70: not gbk" in letter["reason"]
    assert h.task.errors_total == 1 and len(h.sent.changes) == 1


def test_a_table_whose_schema_avro_cannot_follow_stops_and_its_changes_are_dead_lettered() -> None:
    h = streaming()
    h.sent.unrepresentable.add("his.public.patient")
    h.source.commit("c", 1, "a", T0_MS)
    h.source.commit("c", 2, "b", T0_MS)
    h.step()
    assert h.sent.changes == []
    assert [letter["error_type"] for letter in h.sent.letters] == ["UnrepresentableChange"] * 2
    assert all(letter["reason"].startswith("table stopped: ") for letter in h.sent.letters)
    assert b'"after": {"id": 2, "name": "b"}' in h.sent.letters[1]["raw"]
    assert h.task.errors_total == 1  # the table stopped once; later changes are letters only
    h.sent.ack()
    h.step()
    assert "his.public.patient" in h.positions.saved[-1]["stopped"]  # survives a restart


def test_positions_are_written_with_the_compacted_logs_key_bytes() -> None:
    from streamhub.capture.positions import record_bytes
    from streamhub.kafka.compacted_log import _encode

    key = {"connector": "xm-his"}
    assert record_bytes(key) == _encode(key)  # compaction keeps one record per connector
    state = {"resume": "0/64", "counts": [], "snapshot": {"b": 1, "a": None}}
    assert record_bytes(state) == _encode(state)
