"""Targeted re-snapshot: key validation and the keyed read window."""

import re
from datetime import date, datetime
from decimal import Decimal

import pytest

from streamhub.capture.errors import (
    InvalidKeyError,
)
from streamhub.capture.model import Chunk, ColumnInfo, RowEvent, TableInfo, UndecodableValue
from streamhub.capture.resnapshot import (
    KeyedReadWindow,
    coerce_key,
    resolve_table,
)

T = TableInfo(
    "db",
    "public",
    "t",
    (ColumnInfo("id", "int8", "long", key=True), ColumnInfo("v", "text", "string")),
)
COMPOSITE = TableInfo(
    "his",
    None,
    "visit",
    (
        ColumnInfo("brid", "varchar(20)", "string", key=True),
        ColumnInfo("day", "date", "date", key=True),
        ColumnInfo("fee", "decimal(10,2)", "decimal", key=True),
        ColumnInfo("at", "datetime(3)", "local_timestamp_ms", key=True),
        ColumnInfo("tag", "varbinary(4)", "bytes", key=True),
        ColumnInfo("note", "varchar(40)", "string"),
    ),
)


def _event(op, before, after, seq):
    return RowEvent(T, op, before, after, "0/1", seq, "7", 0)


def _window(*ids):
    return KeyedReadWindow("k1", "req-1", T, {coerce_key(T, {"id": i}): {"id": i} for i in ids})


# --- keys ---------------------------------------------------------------------------------


def test_json_keys_become_the_values_the_readers_return():
    assert coerce_key(T, {"id": 5}) == (5,)
    assert coerce_key(T, {"id": "5"}) == (5,)  # a key typed by hand on the command line
    key = {"brid": "B1", "day": "2024-03-01", "fee": "12.5", "at": "2024-03-01 08:30:00.125"}
    values = coerce_key(COMPOSITE, key | {"tag": "00ff"})
    assert values == (
        "B1",
        date(2024, 3, 1),
        Decimal("12.50"),  # equal whatever the scale the reader returns
        datetime(2024, 3, 1, 8, 30, 0, 125000),
        b"\x00\xff",
    )


@pytest.mark.parametrize(
    ("key", "names"),
    [
        ({"ID": 5}, "does not match the primary key (id) of db.public.t"),
        ({"id": 5, "v": "x"}, "does not match the primary key (id)"),
        ({"id": None}, "id is null"),
        ({"id": "five"}, "id (int8) cannot be 'five'"),
        ({"id": True}, "id needs an integer"),
        ([5], "a key must be an object"),
    ],
)
def test_keys_that_do_not_fit_the_primary_key_are_refused_with_the_reason(key, names):
    with pytest.raises(InvalidKeyError, match=re.escape(names)):
        coerce_key(T, key)


def test_a_table_is_found_by_its_full_name_or_an_unambiguous_tail():
    tables = {"db.public.t": T, "db.public.u": T, "db.other.u": T}
    assert resolve_table(tables, "t") == "db.public.t"
    assert resolve_table(tables, "public.t") == "db.public.t"
    assert resolve_table(tables, "db.public.u") == "db.public.u"
    assert resolve_table(tables, "u") is None  # two schemas have one
    assert resolve_table(tables, "nope") is None


# --- the window ----------------------------------------------------------------------------


def test_rows_read_are_emitted_and_absent_keys_are_not_found():
    window = _window(1, 2, 9)
    window.hold(Chunk(T, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "x"}]))
    window.seen_low = True
    outcome = window.finish()
    assert outcome.rows == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]  # 3 was not requested
    assert outcome.from_log == [] and outcome.not_found == [{"id": 9}]


def test_changes_logged_between_the_marks_decide_their_keys():
    window = _window(1, 2, 3, 4)
    window.hold(Chunk(T, [{"id": i, "v": "read"} for i in (1, 2, 3)]))
    window.observe(_event("u", None, {"id": 1, "v": "before low"}, 10))  # ignored: not yet low
    window.seen_low = True
    window.observe(_event("u", None, {"id": 2, "v": "newer"}, 11))
    window.observe(_event("d", {"id": 3}, None, 12))
    window.observe(_event("c", None, {"id": 4, "v": "inserted after the read"}, 13))
    outcome = window.finish()
    assert outcome.rows == [{"id": 1, "v": "read"}]
    assert outcome.from_log == [({"id": 2}, 11), ({"id": 4}, 13)]  # the log's envelopes
    assert outcome.not_found == [{"id": 3}]  # a delete cannot be re-read


def test_a_key_changing_update_moves_the_row_away_from_its_old_key():
    window = _window(1)
    window.hold(Chunk(T, [{"id": 1, "v": "read"}]))
    window.seen_low = True
    window.observe(_event("u", {"id": 1, "v": "read"}, {"id": 7, "v": "read"}, 20))
    outcome = window.finish()
    assert outcome.rows == [] and outcome.not_found == [{"id": 1}]


def test_only_undecodable_values_of_emitted_rows_are_kept():
    window = _window(1, 2)
    bad = [UndecodableValue(T, "r", "v", b"\x81", "gbk", {"id": i}, "", 0, 0) for i in (1, 2)]
    window.hold(Chunk(T, [{"id": 1, "v": None}, {"id": 2, "v": None}], undecodable=bad))
    window.seen_low = True
    window.observe(_event("u", None, {"id": 2, "v": "fixed"}, 5))
    assert [u.key for u in window.finish().undecodable] == [{"id": 1}]


def test_another_tables_changes_leave_the_window_alone():
    other = TableInfo("db", "public", "other", T.columns)
    window = _window(1)
    window.hold(Chunk(T, [{"id": 1, "v": "read"}]))
    window.seen_low = True
    window.observe(RowEvent(other, "d", {"id": 1}, None, "0/1", 3, "7", 0))
    assert window.finish().rows == [{"id": 1, "v": "read"}]
