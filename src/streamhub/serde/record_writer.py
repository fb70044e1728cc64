"""A flat record schema's Avro body written straight to bytes, without fastavro's per-field
schema walk: the bytes fastavro writes for the same dict, for values of exactly the types
it would write unchanged.

:func:`compile_record` reads a parsed record schema once. It compiles only records whose
fields are all of the kinds below (primitives, their logical types ``timestamp-millis``,
``date`` and ``decimal`` on bytes, arrays of strings, and ``["null", X]`` of those); for any
other schema it returns None. The compiled writer takes a dict holding every field and
writes a value only when its Python type is exactly the one fastavro writes without
resolution (a ``str`` for a string, an ``int`` but not a ``bool`` for a long, a ``float``
for a double, a ``datetime`` for a timestamp, a ``date`` for a date, a ``Decimal`` for a
decimal, a ``list`` of ``str`` for an array of strings, None for a union's null);
timestamps, dates and decimals are converted by fastavro's own logical writers. Anything
else raises :class:`Unfit` (or the conversion's own error), and the caller hands the
record to fastavro, so its bytes and its errors are fastavro's
(tests/unit/serde/test_record_writer.py compares the two).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from fastavro.logical_writers import LOGICAL_WRITERS

from streamhub.serde.avro_binary import (
    INT_RANGE,
    LONG_RANGE,
    NULL,
    PRESENT,
    SIZES,
    long_bytes,
    pack_double,
)

_EMPTY_ARRAY: Final = b"\x00"
_TO_UTC_MS: Final = LOGICAL_WRITERS["long-timestamp-millis"]
_TO_DATE: Final = LOGICAL_WRITERS["int-date"]
_TO_DECIMAL: Final = LOGICAL_WRITERS["bytes-decimal"]
_NO_SCHEMA: Final[dict[str, object]] = {}  # the timestamp and date writers do not read it

# field kinds
STRING, LONG, INT, BOOLEAN, DOUBLE, BYTES, TIMESTAMP, DATE, DECIMAL, STRINGS = range(10)
_PRIMITIVES: Final[dict[tuple[str, str | None], int]] = {
    ("string", None): STRING,
    ("long", None): LONG,
    ("int", None): INT,
    ("boolean", None): BOOLEAN,
    ("double", None): DOUBLE,
    ("bytes", None): BYTES,
    ("long", "timestamp-millis"): TIMESTAMP,
    ("int", "date"): DATE,
    ("bytes", "decimal"): DECIMAL,
}


class Unfit(Exception):
    """A value is not of the exact type the compiled writer writes: fastavro must judge."""


def _kind(schema: Any) -> tuple[int, dict[str, Any]] | None:
    """(kind, the type's schema) of a field type, or None when not compiled."""
    if isinstance(schema, str):
        kind = _PRIMITIVES.get((schema, None))
        return None if kind is None else (kind, {})
    if not isinstance(schema, dict):
        return None
    name = schema.get("type")
    if name == "array" and schema.get("items") == "string":
        return STRINGS, schema
    logical = schema.get("logicalType")
    if not isinstance(name, str) or not (logical is None or isinstance(logical, str)):
        return None
    kind = _PRIMITIVES.get((name, logical))
    if kind == DECIMAL and not isinstance(schema.get("precision"), int):
        return None
    return None if kind is None else (kind, schema)


Field = tuple[str, int, bool, dict[str, Any]]  # name, kind, nullable, the type's schema


def compile_record(parsed: Any) -> RecordWriter | None:
    """The compiled writer of a parsed record schema, or None when a field is of a kind this
    module does not write (fastavro writes those records)."""
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        return None
    fields: list[Field] = []
    for spec in parsed.get("fields", []):
        kind_of = spec.get("type")
        nullable = False
        if isinstance(kind_of, list):
            if len(kind_of) != 2 or kind_of[0] != "null":
                return None
            kind_of, nullable = kind_of[1], True
        found = _kind(kind_of)
        if found is None:
            return None
        fields.append((spec["name"], found[0], nullable, found[1]))
    return RecordWriter(tuple(fields))


class RecordWriter:
    """Writes one record schema's body (no wire header); see the module docstring."""

    __slots__ = ("fields",)

    def __init__(self, fields: tuple[Field, ...]) -> None:
        self.fields = fields

    def write(self, record: Mapping[str, Any]) -> bytes:
        """The record's Avro body. Raises :class:`Unfit` (or KeyError for a missing field,
        or the logical writers' own errors) where fastavro has to judge."""
        parts: list[bytes] = []
        append = parts.append
        for name, kind, nullable, schema in self.fields:
            value = record[name]
            if value is None:
                if not nullable:
                    raise Unfit(name)
                append(NULL)
                continue
            if nullable:
                append(PRESENT)
            kind_of = type(value)
            if kind == STRING:
                if kind_of is not str:
                    raise Unfit(name)
                data = value.encode()
                size = len(data)
                append(SIZES[size] if size < 64 else long_bytes(size))
                append(data)
            elif kind == TIMESTAMP:
                if kind_of is not datetime:
                    raise Unfit(name)
                append(long_bytes(_TO_UTC_MS(value, _NO_SCHEMA)))
            elif kind == LONG:
                if kind_of is not int or value not in LONG_RANGE:
                    raise Unfit(name)
                append(long_bytes(value))
            elif kind == BOOLEAN:
                if kind_of is not bool:
                    raise Unfit(name)
                append(b"\x01" if value else b"\x00")
            elif kind == STRINGS:
                if kind_of is not list:
                    raise Unfit(name)
                if value:
                    append(long_bytes(len(value)))
                    for item in value:
                        if type(item) is not str:
                            raise Unfit(name)
                        data = item.encode()
                        append(long_bytes(len(data)))
                        append(data)
                append(_EMPTY_ARRAY)
            else:
                append(_OTHER[kind](name, value, kind_of, schema))
        return b"".join(parts)


def _int(name: str, value: Any, kind_of: type, schema: dict[str, Any]) -> bytes:
    if kind_of is not int or value not in INT_RANGE:
        raise Unfit(name)
    return long_bytes(value)


def _double(name: str, value: Any, kind_of: type, schema: dict[str, Any]) -> bytes:
    if kind_of is not float:
        raise Unfit(name)
    return pack_double(value)


def _bytes(name: str, value: Any, kind_of: type, schema: dict[str, Any]) -> bytes:
    if kind_of is not bytes:
        raise Unfit(name)
    data: bytes = value
    return long_bytes(len(data)) + data


def _date(name: str, value: Any, kind_of: type, schema: dict[str, Any]) -> bytes:
    if kind_of is not date:
        raise Unfit(name)
    return long_bytes(_TO_DATE(value, _NO_SCHEMA))


def _decimal(name: str, value: Any, kind_of: type, schema: dict[str, Any]) -> bytes:
    if kind_of is not Decimal:
        raise Unfit(name)
    data: bytes = _TO_DECIMAL(value, schema)
    return long_bytes(len(data)) + data


_OTHER: Final[dict[int, Callable[[str, Any, type, dict[str, Any]], bytes]]] = {
    INT: _int,
    DOUBLE: _double,
    BYTES: _bytes,
    DATE: _date,
    DECIMAL: _decimal,
}
