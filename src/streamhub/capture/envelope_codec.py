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
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Final

from fastavro.logical_writers import LOGICAL_WRITERS

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.envelope import plain_key_value
from streamhub.capture.model import RowEvent, TableInfo, ValueKind
from streamhub.serde import wire
from streamhub.serde.avro_binary import (
    INT_RANGE,
    LONG_RANGE,
    NULL,
    PRESENT,
    SIZES,
    long_bytes,
    pack_double,
    string_bytes,
)
from streamhub.serde.errors import CorruptMessageError

_OPS: Final = {"c": b"\x00", "u": b"\x02", "d": b"\x04", "r": b"\x06"}  # enum c, u, d, r
_NO_SCHEMA: Final[dict[str, object]] = {}  # these converters do not look at the schema
_TO_DATE = LOGICAL_WRITERS["int-date"]
_EPOCH: Final = datetime(1970, 1, 1)
_EPOCH_UTC: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)


class _Unfit(Exception):
    """A value does not fit its column's Avro type."""


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
    return pack_double(float(value))


def _string(value: object) -> bytes:
    if isinstance(value, str):  # string_bytes, inlined: the commonest column
        data = value.encode()
        size = len(data)
        return (SIZES[size] if size < 64 else long_bytes(size)) + data
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
    # years 1 to 9999 in milliseconds: always a long; fastavro's wall time (it drops the
    # zone) floored to the millisecond, by timedelta arithmetic at an eighth of its cost
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        return long_bytes((value - _EPOCH) // _MILLISECOND)
    return _long(value)


def _timestamp(value: object) -> bytes:
    if isinstance(value, datetime):  # a naive one is UTC, as fastavro takes it
        epoch = _EPOCH if value.tzinfo is None else _EPOCH_UTC
        return long_bytes((value - epoch) // _MILLISECOND)
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
        schema = NULL if table.schema is None else PRESENT + string_bytes(table.schema)
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
                    NULL if txid is None else PRESENT + string_bytes(txid),
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
            return NULL
        parts = [PRESENT]
        append = parts.append
        get = values.get
        for name, write in self._columns:
            value = get(name)
            if value is None:
                append(NULL)
            else:
                append(PRESENT)
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
