"""pgoutput v1 messages built byte by byte, as the walsender sends them."""

import struct

import pytest

from streamhub.capture.errors import CaptureError
from streamhub.capture.postgres.pgoutput import (
    UNCHANGED_TOAST,
    Begin,
    Commit,
    Delete,
    Insert,
    LogicalMessage,
    Origin,
    Relation,
    RelationColumn,
    Truncate,
    Type,
    UnchangedToast,
    Update,
    decode,
    format_lsn,
    parse_lsn,
    pg_timestamp_ms,
)

# 2024-01-01 00:00:00.123456 UTC in microseconds since 2000-01-01
TS_US = (1_704_067_200_000 - 946_684_800_000) * 1000 + 123_456
TS_MS = 1_704_067_200_123


def cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def tuple_data(*values: bytes | UnchangedToast | None) -> bytes:
    out = struct.pack(">h", len(values))
    for value in values:
        if value is None:
            out += b"n"
        elif isinstance(value, UnchangedToast):
            out += b"u"
        else:
            out += b"t" + struct.pack(">i", len(value)) + value
    return out


def test_begin_and_commit_carry_lsns_xid_and_epoch_milliseconds():
    begin = decode(b"B" + struct.pack(">QqI", 0x1_16B3748, TS_US, 4242))
    assert begin == Begin(final_lsn=0x1_16B3748, commit_ts_ms=TS_MS, xid=4242)
    commit = decode(b"C" + struct.pack(">BQQq", 0, 0x1_16B3748, 0x1_16B3778, TS_US))
    assert commit == Commit(
        flags=0, commit_lsn=0x1_16B3748, end_lsn=0x1_16B3778, commit_ts_ms=TS_MS
    )


def test_origin_and_type():
    assert decode(b"O" + struct.pack(">Q", 99) + cstr("node_a")) == Origin(99, "node_a")
    assert decode(b"Y" + struct.pack(">I", 16400) + cstr("public") + cstr("mood")) == Type(
        16400, "public", "mood"
    )


def test_relation_lists_columns_with_key_flags_types_and_modifiers():
    payload = (
        b"R"
        + struct.pack(">I", 16385)
        + cstr("his")
        + cstr("患者")
        + b"f"
        + struct.pack(">h", 2)
        + b"\x01"
        + cstr("id")
        + struct.pack(">Ii", 20, -1)
        + b"\x00"
        + cstr("name")
        + struct.pack(">Ii", 1043, 44)
    )
    assert decode(payload) == Relation(
        relation_id=16385,
        namespace="his",
        name="患者",
        replica_identity="f",
        columns=(
            RelationColumn(key=True, name="id", type_oid=20, type_modifier=-1),
            RelationColumn(key=False, name="name", type_oid=1043, type_modifier=44),
        ),
    )


def test_insert_keeps_text_bytes_and_nulls():
    payload = b"I" + struct.pack(">I", 7) + b"N" + tuple_data(b"1", None, "张".encode())
    assert decode(payload) == Insert(7, (b"1", None, "张".encode()))


def test_update_with_an_old_row_and_an_unchanged_toast_value():
    payload = (
        b"U"
        + struct.pack(">I", 7)
        + b"O"
        + tuple_data(b"1", b"old", b"big text")
        + b"N"
        + tuple_data(b"1", b"new", UNCHANGED_TOAST)
    )
    message = decode(payload)
    assert message == Update(7, "O", (b"1", b"old", b"big text"), (b"1", b"new", UNCHANGED_TOAST))
    assert isinstance(message, Update) and message.new[2] is UNCHANGED_TOAST


def test_update_with_a_changed_key_or_no_old_tuple():
    keyed = (
        b"U" + struct.pack(">I", 7) + b"K" + tuple_data(b"1", None) + b"N" + tuple_data(b"2", b"x")
    )
    assert decode(keyed) == Update(7, "K", (b"1", None), (b"2", b"x"))
    plain = b"U" + struct.pack(">I", 7) + b"N" + tuple_data(b"2", b"y")
    assert decode(plain) == Update(7, None, None, (b"2", b"y"))


def test_delete_carries_the_old_key():
    payload = b"D" + struct.pack(">I", 7) + b"K" + tuple_data(b"5", None)
    assert decode(payload) == Delete(7, "K", (b"5", None))


def test_truncate_lists_relations_and_options():
    message = decode(b"T" + struct.pack(">iBII", 2, 3, 7, 8))
    assert message == Truncate(options=3, relation_ids=(7, 8))
    assert isinstance(message, Truncate) and message.cascade and message.restart_identity


def test_logical_message():
    content = b'{"connector": "a"}'
    payload = (
        b"M"
        + b"\x01"
        + struct.pack(">Q", 0x2A)
        + cstr("streamhub.watermark")
        + struct.pack(">i", len(content))
        + content
    )
    assert decode(payload) == LogicalMessage(True, 0x2A, "streamhub.watermark", content)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"", "byte 0 of 0: empty"),
        (b"Z\x00", "byte 0 of 2: unknown message type b'Z'"),
        # column 0 claims 10 bytes; 3 follow from byte 13
        (b"I" + struct.pack(">I", 7) + b"N\x00\x01t" + struct.pack(">i", 10) + b"abc", "byte 13"),
        (b"I" + struct.pack(">I", 7) + b"N\x00\x01x", "byte 8 of 9: column 0 kind b'x'"),
        (b"I" + struct.pack(">I", 7) + b"X" + tuple_data(b"1"), "byte 5 .*expected new tuple"),
        (b"D" + struct.pack(">I", 7) + b"N" + tuple_data(b"1"), "byte 5 .*not K or O"),
        (b"B" + struct.pack(">QqI", 1, 2, 3) + b"\x00", "byte 21 of 22: 1 unexpected trailing"),
        (b"Y" + struct.pack(">I", 1) + b"public", "byte 5 .*no terminating NUL"),
        (b"R" + struct.pack(">I", 1) + cstr("s") + cstr("t") + b"q\x00\x00", "replica identity"),
    ],
)
def test_malformed_messages_name_the_byte_offset(payload: bytes, match: str):
    with pytest.raises(CaptureError, match=match):
        decode(payload)


def test_lsn_text_round_trips():
    assert format_lsn(0x16_B374D848) == "16/B374D848"
    assert parse_lsn("16/B374D848") == 0x16_B374D848
    assert parse_lsn("0/0") == 0
    for bad in ("", "16", "0x1/2", "1/2/3", "G/1", "123456789/0"):
        with pytest.raises(CaptureError, match="not a PostgreSQL LSN"):
            parse_lsn(bad)


def test_timestamps_convert_from_the_2000_epoch():
    assert pg_timestamp_ms(0) == 946_684_800_000
    assert pg_timestamp_ms(-1000) == 946_684_799_999


def test_unchanged_toast_is_one_sentinel():
    assert UnchangedToast() is UNCHANGED_TOAST
    assert repr(UNCHANGED_TOAST) == "UNCHANGED_TOAST"


ROW_MESSAGES = [
    b"I" + struct.pack(">I", 7) + b"N" + tuple_data(b"1", None, "张".encode(), b""),
    b"I" + struct.pack(">I", 2**32 - 1) + b"N" + tuple_data(),
    b"U" + struct.pack(">I", 7) + b"N" + tuple_data(b"2", UNCHANGED_TOAST),
    b"U" + struct.pack(">I", 7) + b"K" + tuple_data(b"1", None) + b"N" + tuple_data(b"2", b"x"),
    b"U" + struct.pack(">I", 7) + b"O" + tuple_data(b"1", b"a") + b"N" + tuple_data(b"1", b"b"),
    b"D" + struct.pack(">I", 7) + b"K" + tuple_data(b"5", None),
    b"D" + struct.pack(">I", 7) + b"O" + tuple_data(b"5", b"t" * 300),
]


@pytest.mark.parametrize("payload", ROW_MESSAGES)
def test_row_changes_decode_alike_on_the_fast_and_the_checked_path(payload: bytes) -> None:
    from streamhub.capture.postgres import pgoutput

    checked = pgoutput._DECODERS[payload[:1]](pgoutput._Cursor(payload, "row"))
    assert pgoutput._FAST[payload[0]](payload) == checked
    assert decode(payload) == checked


@pytest.mark.parametrize("payload", ROW_MESSAGES)
def test_every_truncated_or_extended_row_change_is_a_capture_error(payload: bytes) -> None:
    for end in range(1, len(payload)):
        with pytest.raises(CaptureError, match="malformed pgoutput"):
            decode(payload[:end])
    with pytest.raises(CaptureError, match="1 unexpected trailing"):
        decode(payload + b"n")
