"""Key-changing updates become a delete of the old key and a create of the new."""

from __future__ import annotations

from itertools import count

from streamhub.capture.counts import SourceCounts
from streamhub.capture.keychange import key_changed, split_key_change
from streamhub.capture.model import Chunk, ColumnInfo, RowEvent, TableInfo
from streamhub.capture.snapshotting import ChunkWindow

TABLE = TableInfo(
    "his",
    None,
    "reg",
    (
        ColumnInfo("mzh", "varchar(20)", "string", key=True, nullable=False),
        ColumnInfo("ghsj", "datetime", "string", key=True, nullable=False),
        ColumnInfo("xm", "varchar(40)", "string"),
    ),
)


def update(before: dict[str, object] | None, after: dict[str, object], seq: int = 7) -> RowEvent:
    return RowEvent(TABLE, "u", before, after, "0-1-9", seq, "0-1-9", 1_000)


def test_a_changed_key_column_is_a_key_change() -> None:
    old = {"mzh": "M1", "ghsj": "08:00", "xm": "a"}
    assert key_changed(TABLE, old, {**old, "ghsj": "09:00"})
    assert not key_changed(TABLE, old, {**old, "xm": "b"})
    assert not key_changed(TABLE, None, old)  # PostgreSQL DEFAULT: no old tuple, no change
    assert key_changed(TABLE, {"mzh": "M1", "ghsj": "08:00"}, {**old, "mzh": "M2"})  # 'K'
    assert not key_changed(TABLE, {"mzh": "M1"}, {**old, "mzh": "M1"})  # a key column unknown


def test_a_key_change_splits_into_delete_then_create_with_the_next_seq() -> None:
    seqs = count(8)
    old = {"mzh": "M1", "ghsj": "08:00", "xm": "a"}
    new = {"mzh": "M1", "ghsj": "09:00", "xm": "a"}
    deleted, created = split_key_change(update(old, new), lambda: next(seqs))
    assert (deleted.op, deleted.before, deleted.after, deleted.position_seq) == ("d", old, None, 7)
    assert (created.op, created.before, created.after, created.position_seq) == ("c", None, new, 8)
    assert deleted.position == created.position and deleted.commit_ts_ms == created.commit_ts_ms


def test_other_changes_pass_through_and_take_no_seq() -> None:
    def no_seq() -> int:
        raise AssertionError("a plain change must not use a second position_seq")

    plain = update({"mzh": "M1", "ghsj": "08:00", "xm": "a"}, {"mzh": "M1", "ghsj": "08:00"})
    assert split_key_change(plain, no_seq) == [plain]
    insert = RowEvent(TABLE, "c", None, {"mzh": "M1", "ghsj": "1"}, "p", 1, None, 0)
    assert split_key_change(insert, no_seq) == [insert]


def test_a_split_counts_one_delete_and_one_insert() -> None:
    counts = SourceCounts()
    old = {"mzh": "M1", "ghsj": "08:00"}
    for event in split_key_change(update(old, {**old, "ghsj": "09:00"}), lambda: 8):
        counts.add("his.reg", event.op, event.commit_ts_ms)
    (window,) = counts.due(everything=True)
    assert (window.inserts, window.updates, window.deletes) == (1, 0, 1)


def test_in_a_chunk_window_the_split_drops_both_keys_copies() -> None:
    rows = [
        {"mzh": "M1", "ghsj": "08:00", "xm": "a"},
        {"mzh": "M1", "ghsj": "09:00", "xm": "a"},
        {"mzh": "M2", "ghsj": "08:00", "xm": "b"},
    ]
    window = ChunkWindow.of("k", Chunk(TABLE, rows, ("M2", "08:00")), 10)
    window.seen_low = True
    for event in split_key_change(update(rows[0], rows[1]), lambda: 8):
        window.observe(event)
    assert window.remaining() == [rows[2]]
