"""One table's change envelopes written straight to Avro bytes, without the envelope dict.

:func:`~streamhub.capture.envelope.envelope_schema` fixes the layout of every change
envelope: ``before`` and ``after`` (null or the table's ``Value`` record, whose fields are
each null or one value kind), ``op`` (an enum), ``ts_ms`` and the ``source`` record, whose
first seven fields are the same for every change of a table. So the encoder of a table
is a list of per-column writers plus the ``source`` fields' bytes written once; per change
it writes only what varies. The bytes are exactly those fastavro writes for the envelope
dict under the registered schema (tests/unit/capture/test_envelope_codec.py checks it value
kind by value kind), in the Confluent wire format, at a third of the cost: the dict, the
union branch search and the logical-type lookups per field were most of the time.

A value that does not fit its column's Avro type raises :class:`CorruptMessageError`, as
:meth:`~streamhub.serde.avro_serde.AvroSerde.encode` does.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Final

from fastavro.logical_writers import LOGICAL_WRITERS

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.envelope import plain_key_value
from streamhub.capture.model import RowEvent, TableInfo, ValueKind
from streamhub.serde import wire
from streamhub.serde.errors import CorruptMessageError

INT_RANGE: Final = range(-(2**31), 2**31)
LONG_RANGE: Final = range(-(2**63), 2**63)
_NULL: Final = b"\x00"
_PRESENT: Final = b"\x02"  # union branch 1 (the value), zigzag-encoded
_OPS: Final = {"c": b"\x00", "u": b"\x02", "d": b"\x04", "r": b"\x06"}  # enum c, u, d, r
# zigzag varints of -64..63, the common small numbers
_SMALL: Final = {n: bytes([(n << 1) ^ (n >> 63)]) for n in range(-64, 64)}
_SIZES: Final = tuple(_SMALL[n] for n in range(64))  # a short string's length
# two varint groups with their continuation bits, for every 14-bit value
_TWO_GROUPS: Final = [bytes(((n & 0x7F) | 0x80, (n >> 7) | 0x80)) for n in range(1 << 14)]
_DOUBLE: Final = struct.Struct("<d").pack
_NO_SCHEMA: Final[dict[str, object]] = {}  # these converters do not look at the schema
_TO_DATE = LOGICAL_WRITERS["int-date"]
_TO_LOCAL_MS = LOGICAL_WRITERS["long-local-timestamp-millis"]
_TO_UTC_MS = LOGICAL_WRITERS["long-timestamp-millis"]


class _Unfit(Exception):
    """A value does not fit its column's Avro type."""


def long_bytes(value: int) -> bytes:
    """An Avro long: zigzag, then a little-endian base-128 varint (14 bits a step)."""
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
    data = text.encode()
    size = len(data)
    return (_SIZES[size] if size < 64 else long_bytes(size)) + data


def _int(value: object) -> bytes:
    if type(value) is not int or value not in INT_RANGE:
        raise _Unfit("int")
    return long_bytes(value)


def _long(value: object) -> bytes:
    if type(value) is not int or value not in LONG_RANGE:
        raise _Unfit("long")
    return long_bytes(value)


def _boolean(value: object) -> bytes:
    if value is True:
        return b"\x01"
    if value is False:
        return b"\x00"
    raise _Unfit("boolean")


def _double(value: object) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Unfit("double")
    return _DOUBLE(float(value))


def _string(value: object) -> bytes:
    if isinstance(value, str):  # string_bytes, inlined: the commonest column
        data = value.encode()
        size = len(data)
        return (_SIZES[size] if size < 64 else long_bytes(size)) + data
    if isinstance(value, Decimal):  # exact digits as text, as the envelope dict has them
        return string_bytes(format(value, "f"))
    raise _Unfit("string")


def _bytes(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise _Unfit("bytes")
    return long_bytes(len(value)) + value


def _date(value: object) -> bytes:
    return _int(_TO_DATE(value, _NO_SCHEMA) if isinstance(value, date | str) else value)


def _local_timestamp(value: object) -> bytes:
    if isinstance(value, datetime):  # years 1 to 9999 in milliseconds: always a long
        return long_bytes(_TO_LOCAL_MS(value, _NO_SCHEMA))
    return _long(value)


def _timestamp(value: object) -> bytes:
    if isinstance(value, datetime):
        return long_bytes(_TO_UTC_MS(value, _NO_SCHEMA))
    return _long(value)


WRITERS: Final[dict[ValueKind, Callable[[object], bytes]]] = {
    "int": _int,
    "long": _long,
    "boolean": _boolean,
    "double": _double,
    "decimal": _string,
    "string": _string,
    "bytes": _bytes,
    "date": _date,
    "local_timestamp_ms": _local_timestamp,
    "timestamp_ms": _timestamp,
}


def _json_key_value(value: object) -> str:
    if type(value) is int:
        return str(value)
    if type(value) is str:
        text: str = encode_basestring(value)
        return text
    return json.dumps(plain_key_value(value), ensure_ascii=False)


class EnvelopeEncoder:
    """Writes the change envelopes of one table layout under one registered schema id, and
    their message keys."""

    def __init__(
        self, config: ConnectorConfig, table: TableInfo, schema_id: int, subject: str
    ) -> None:
        self.subject = subject
        self.schema_id = schema_id
        self._header = wire.header(schema_id)
        self._columns = tuple((column.name, WRITERS[column.kind]) for column in table.columns)
        schema = _NULL if table.schema is None else _PRESENT + string_bytes(table.schema)
        # the message key, :func:`~streamhub.capture.envelope.message_key`'s canonical JSON:
        # {"institution_id":…,"key":{sorted key columns},"table":…}
        institution = encode_basestring(config.institution_id)
        self._key_head = f'{{"institution_id":{institution},"key":{{'
        self._key_columns = tuple(
            (name, f"{encode_basestring(name)}:") for name in sorted(table.key_columns)
        )
        qualified = encode_basestring(f"{table.database}.{table.qualified}")
        self._key_tail = f'}},"table":{qualified}}}'
        self._source_head = b"".join(
            (
                string_bytes(config.institution_id),
                string_bytes(config.system),
                string_bytes(config.name),
                string_bytes(config.engine),
                string_bytes(table.database),
                schema,
                string_bytes(table.name),
            )
        )

    def encode(self, event: RowEvent, ts_ms: int) -> bytes:
        """The framed envelope of ``event``, stamped ``ts_ms``."""
        try:
            txid = event.txid
            return b"".join(
                (
                    self._header,
                    self._row(event.before),
                    self._row(event.after),
                    _OPS[event.op],
                    long_bytes(ts_ms),
                    self._source_head,
                    string_bytes(event.position),
                    long_bytes(event.position_seq),
                    _NULL if txid is None else _PRESENT + string_bytes(txid),
                    long_bytes(event.commit_ts_ms),
                    string_bytes(event.snapshot),
                )
            )
        except (_Unfit, KeyError, TypeError, AttributeError, UnicodeEncodeError) as exc:
            raise CorruptMessageError(
                f"subject {self.subject}: record does not match schema id {self.schema_id}: "
                f"{self._misfit(event) or exc}"
            ) from exc

    def key(self, event: RowEvent) -> bytes:
        """The message key: institution, table and primary key (one row, one partition)."""
        values = event.after if event.after is not None else event.before or {}
        get = values.get
        pairs = ",".join([label + _json_key_value(get(name)) for name, label in self._key_columns])
        return (self._key_head + pairs + self._key_tail).encode()

    def _row(self, values: dict[str, object] | None) -> bytes:
        if values is None:
            return _NULL
        parts = [_PRESENT]
        append = parts.append
        get = values.get
        for name, write in self._columns:
            value = get(name)
            if value is None:
                append(_NULL)
            else:
                append(_PRESENT)
                append(write(value))
        return b"".join(parts)

    def _misfit(self, event: RowEvent) -> str | None:
        """Which column's value does not fit (named by column and type, never by value)."""
        for values in (event.before, event.after):
            for name, write in self._columns:
                value = None if values is None else values.get(name)
                if value is None:
                    continue
                try:
                    write(value)
                except (_Unfit, TypeError, UnicodeEncodeError) as exc:
                    return f"column {name}: a {type(value).__name__} is not Avro {exc}"
        return None
