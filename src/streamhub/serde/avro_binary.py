"""Avro's binary encoding of the primitives, for the writers that skip fastavro's schema walk
(:mod:`streamhub.serde.record_writer` for flat records, the capture agent's envelope codec):
the same bytes fastavro writes, built from precomputed tables where a value is common."""

from __future__ import annotations

import struct
from typing import Final

INT_RANGE: Final = range(-(2**31), 2**31)
LONG_RANGE: Final = range(-(2**63), 2**63)
NULL: Final = b"\x00"  # branch 0 of ["null", X], zigzag-encoded
PRESENT: Final = b"\x02"  # branch 1 of ["null", X]
# zigzag varints of -64..63, the common small numbers
_SMALL: Final = {n: bytes([(n << 1) ^ (n >> 63)]) for n in range(-64, 64)}
SIZES: Final = tuple(_SMALL[n] for n in range(64))  # a short string's length
# two varint groups with their continuation bits, for every 14-bit value
_TWO_GROUPS: Final = [bytes(((n & 0x7F) | 0x80, (n >> 7) | 0x80)) for n in range(1 << 14)]
pack_double: Final = struct.Struct("<d").pack  # an Avro double


def long_bytes(value: int) -> bytes:
    """An Avro long or int: zigzag, then a little-endian base-128 varint (14 bits a step: a
    timestamp in ms takes three)."""
    small = _SMALL.get(value)
    if small is not None:
        return small
    zigzag = (value << 1) ^ (value >> 63)
    out = b""
    while zigzag >= 0x4000:
        out += _TWO_GROUPS[zigzag & 0x3FFF]
        zigzag >>= 14
    if zigzag < 0x80:
        return out + bytes((zigzag,))
    return out + bytes(((zigzag & 0x7F) | 0x80, zigzag >> 7))


def string_bytes(text: str) -> bytes:
    """An Avro string: its UTF-8 length, then the bytes."""
    data = text.encode()
    size = len(data)
    return (SIZES[size] if size < 64 else long_bytes(size)) + data
