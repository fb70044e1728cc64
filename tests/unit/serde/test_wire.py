import pytest

from streamhub.serde import CorruptMessageError, MessageRef, UnsupportedWireFormatError, wire


def test_header_then_split_gives_back_id_and_body() -> None:
    data = wire.header(70000) + b"body"
    schema_id, body = wire.split(data)
    assert schema_id == 70000
    assert bytes(body) == b"body"
    assert data[:5] == b"\x00\x00\x01\x11\x70"


def test_short_message_is_corrupt_and_names_where_it_came_from() -> None:
    with pytest.raises(CorruptMessageError, match=r"topic t1 partition 3 offset 42: 3 bytes"):
        wire.split(b"\x00\x00\x01", MessageRef("t1", 3, 42))


def test_magic_byte_one_is_refused_with_its_own_error() -> None:
    with pytest.raises(UnsupportedWireFormatError, match="magic byte 1"):
        wire.split(b"\x01\x00\x00\x00\x01body")


def test_message_ref_without_location_still_reads() -> None:
    assert str(MessageRef()) == "message of unknown origin"
