"""The Confluent wire format: magic byte 0, big-endian 4-byte schema id, Avro body."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from streamhub.serde.errors import CorruptMessageError, UnsupportedWireFormatError

MAGIC_BYTE = 0
_HEADER = struct.Struct(">BI")
HEADER_SIZE = _HEADER.size


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a message came from, for error messages and dead letters."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    def __str__(self) -> str:
        parts = []
        if self.topic is not None:
            parts.append(f"topic {self.topic}")
        if self.partition is not None:
            parts.append(f"partition {self.partition}")
        if self.offset is not None:
            parts.append(f"offset {self.offset}")
        return " ".join(parts) or "message of unknown origin"


def header(schema_id: int) -> bytes:
    return _HEADER.pack(MAGIC_BYTE, schema_id)


def split(data: bytes | memoryview, where: MessageRef | None = None) -> tuple[int, memoryview]:
    """Return (schema id, Avro body) of a framed message, or raise a specific error."""
    ref = where or MessageRef()
    if len(data) < HEADER_SIZE:
        raise CorruptMessageError(
            f"{ref}: {len(data)} bytes is shorter than the 5-byte Confluent header; "
            "the message is truncated or was not written by an Avro serializer"
        )
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise UnsupportedWireFormatError(
            f"{ref}: magic byte {magic} is not 0; only the Confluent wire format 0 is read "
            "(configure the producer's serializer for magic byte 0 with the id in the payload)"
        )
    return schema_id, memoryview(data)[HEADER_SIZE:]
