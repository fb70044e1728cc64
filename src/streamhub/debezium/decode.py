"""Debezium's column encodings → the values the capture agent's envelopes carry.

Debezium writes each column under a Kafka Connect schema: a literal type (``int32``,
``bytes``, ``string``, ``struct``…) and, for most types that are not plain numbers or text,
a semantic name (``org.apache.kafka.connect.data.Decimal``, ``io.debezium.time.MicroTimestamp``…).
Connect's JsonConverter with ``schemas.enable=true`` puts that schema in every message, so a
column is decoded by its schema alone, whatever the source database and whichever variant of
``time.precision.mode`` (adaptive, adaptive_time_microseconds, connect, isostring,
microseconds, nanoseconds), ``decimal.handling.mode`` (precise, double, string) or
``binary.handling.mode`` the connector was configured with.

The result is what the agent's own readers produce for the same column (``capture/model.py``'s
value kinds): exact :class:`~decimal.Decimal` for decimals (written as their digits), ``date``,
a naive ``datetime`` for a timestamp without zone (the source's wall clock), an aware UTC
``datetime`` for one with a zone, ``bytes``, and text for everything the envelope has no kind
for (times of day as ``HH:MM:SS[.ffffff]``, JSON, XML, UUID, enums, intervals, arrays).

JSON numbers must be parsed with ``parse_float=Decimal`` (see :mod:`.events`): a decimal
written as a number (``decimal.format=NUMERIC``) keeps its digits, and a float column
becomes a float here.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from streamhub.capture.model import ValueKind
from streamhub.debezium.normalize_errors import UndecodableValueError

ConnectSchema = Mapping[str, Any]
Decoder = Callable[[object], object]

#: what Debezium writes for a column whose value the log did not carry (an unchanged TOASTed
#: PostgreSQL value, an Oracle LOB not in the redo): the row image is incomplete
UNAVAILABLE: Final = "__debezium_unavailable_value"
_UNAVAILABLE_BYTES: Final = UNAVAILABLE.encode()

EPOCH_DATE: Final = date(1970, 1, 1)
EPOCH: Final = datetime(1970, 1, 1)  # naive: a timestamp without zone is the source's wall clock

DECIMAL: Final = "org.apache.kafka.connect.data.Decimal"
VARIABLE_SCALE_DECIMAL: Final = "io.debezium.data.VariableScaleDecimal"


class _Bad(Exception):
    """A value does not have the shape its schema names (message: what was expected)."""


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


# --- primitives ---------------------------------------------------------------------------


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _Bad("an integer")
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise _Bad("an integer")
        return int(value)
    return value


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        # Connect writes NaN and infinities of a float column as text
        if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
            return float(value)
        raise _Bad("a number")
    return float(value)


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Bad("a boolean")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Bad("text")
    if value == UNAVAILABLE:
        raise _Bad("a value, not Debezium's unavailable-value placeholder")
    return value


def _bytes(value: object) -> bytes:
    """Connect's JsonConverter writes ``bytes`` as base64 text."""
    if not isinstance(value, str):
        raise _Bad("base64 text")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _Bad("base64 text") from exc
    if raw == _UNAVAILABLE_BYTES:
        raise _Bad("a value, not Debezium's unavailable-value placeholder")
    return raw


def _json_text(value: object) -> str:
    """A struct, array or map the envelope has no kind for, as compact JSON text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


# --- decimals -----------------------------------------------------------------------------


def _unscaled(value: object) -> int:
    return int.from_bytes(_bytes(value), "big", signed=True)


def decimal_decoder(scale: int) -> Decoder:
    """``org.apache.kafka.connect.data.Decimal``: big-endian two's complement unscaled integer
    (base64 in JSON) with the schema's fixed scale, or a JSON number (decimal.format=NUMERIC)."""

    def decode(value: object) -> Decimal:
        if isinstance(value, str):
            return Decimal(_unscaled(value)).scaleb(-scale)
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            return Decimal(value).quantize(Decimal(1).scaleb(-scale))
        raise _Bad("a decimal (base64 unscaled bytes or a number)")

    return decode


def variable_scale_decimal(value: object) -> Decimal:
    """``io.debezium.data.VariableScaleDecimal`` (Oracle NUMBER without scale, PostgreSQL
    NUMERIC without modifier): a struct of the value's own ``scale`` and unscaled ``value``."""
    if not isinstance(value, Mapping) or "scale" not in value or "value" not in value:
        raise _Bad("a struct of scale and value")
    scale = _integer(value["scale"])
    return Decimal(_unscaled(value["value"])).scaleb(-scale)


# --- times --------------------------------------------------------------------------------


def _days(value: object) -> date:
    return EPOCH_DATE + timedelta(days=_integer(value))


def _iso_date(value: object) -> date:
    text = _text(value).removesuffix("Z")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise _Bad("an ISO date") from exc


def time_of_day(micros: int) -> str:
    """A time of day as the agent writes one: ``HH:MM:SS`` and ``.ffffff`` when not whole
    (MySQL's TIME may be negative or past 24 h, so hours are not wrapped)."""
    sign = "-" if micros < 0 else ""
    seconds, micro = divmod(abs(micros), 1_000_000)
    hours, rest = divmod(seconds, 3600)
    text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{micro:06d}" if micro else text


def _time(per_second: int) -> Decoder:
    """Time of day since midnight in ms (``Time``), µs (``MicroTime``) or ns (``NanoTime``)."""

    def decode(value: object) -> str:
        units = _integer(value)
        micros = units * 1000 if per_second == 1000 else units // (per_second // 1_000_000)
        return time_of_day(micros)

    return decode


def _local_timestamp(per_second: int) -> Decoder:
    """Since the epoch in ms, µs or ns, read as the source's wall clock (no zone)."""

    def decode(value: object) -> datetime:
        units = _integer(value)
        micros = units * 1000 if per_second == 1000 else units // (per_second // 1_000_000)
        return EPOCH + timedelta(microseconds=micros)

    return decode


def _parse_iso(text: str, what: str) -> datetime:
    try:
        # Python 3.11 reads "Z", offsets, and up to nine fraction digits (truncated to six)
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise _Bad(what) from exc


def _zoned_timestamp(value: object) -> datetime:
    """``io.debezium.time.ZonedTimestamp``: ISO-8601 text with its offset → an instant in UTC."""
    parsed = _parse_iso(_text(value), "an ISO timestamp with offset")
    if parsed.tzinfo is None:
        raise _Bad("an ISO timestamp with offset")
    return parsed.astimezone(UTC)


def _iso_timestamp(value: object) -> datetime:
    """``io.debezium.time.IsoTimestamp`` (isostring mode), a timestamp without zone written
    with a ``Z``: the wall clock it names."""
    parsed = _parse_iso(_text(value), "an ISO timestamp")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _iso_time(value: object) -> str:
    text = _text(value).removesuffix("Z")
    try:
        parsed = datetime.fromisoformat(f"1970-01-01T{text}")
    except ValueError as exc:
        raise _Bad("an ISO time") from exc
    delta = parsed - datetime(1970, 1, 1, tzinfo=parsed.tzinfo)
    return time_of_day(delta // timedelta(microseconds=1))


def _duration(value: object) -> str:
    """``io.debezium.time.MicroDuration``: µs (a month counted as 30.4375 days) as text."""
    return str(timedelta(microseconds=_integer(value)))


def _geometry(value: object) -> bytes:
    """``io.debezium.data.geometry.*``: the WKB of a struct ``{wkb, srid}``."""
    if not isinstance(value, Mapping) or "wkb" not in value:
        raise _Bad("a struct with wkb")
    return _bytes(value["wkb"])


# --- the table --------------------------------------------------------------------------

# semantic name -> (value kind, decoder); decimals are built per scale in column_decoder
_BY_NAME: Final[dict[str, tuple[ValueKind, Decoder]]] = {
    VARIABLE_SCALE_DECIMAL: ("decimal", variable_scale_decimal),
    "io.debezium.time.Date": ("date", _days),
    "org.apache.kafka.connect.data.Date": ("date", _days),
    "io.debezium.time.IsoDate": ("date", _iso_date),
    "io.debezium.time.Time": ("string", _time(1000)),
    "org.apache.kafka.connect.data.Time": ("string", _time(1000)),
    "io.debezium.time.MicroTime": ("string", _time(1_000_000)),
    "io.debezium.time.NanoTime": ("string", _time(1_000_000_000)),
    "io.debezium.time.IsoTime": ("string", _iso_time),
    "io.debezium.time.ZonedTime": ("string", _text),
    "io.debezium.time.Timestamp": ("local_timestamp_ms", _local_timestamp(1000)),
    "org.apache.kafka.connect.data.Timestamp": ("local_timestamp_ms", _local_timestamp(1000)),
    "io.debezium.time.MicroTimestamp": ("local_timestamp_ms", _local_timestamp(1_000_000)),
    "io.debezium.time.NanoTimestamp": ("local_timestamp_ms", _local_timestamp(1_000_000_000)),
    "io.debezium.time.IsoTimestamp": ("local_timestamp_ms", _iso_timestamp),
    "io.debezium.time.ZonedTimestamp": ("timestamp_ms", _zoned_timestamp),
    "io.debezium.time.Year": ("int", _integer),
    "io.debezium.time.MicroDuration": ("string", _duration),
    "io.debezium.time.Interval": ("string", _text),
    "io.debezium.data.Bits": ("bytes", _bytes),
    "io.debezium.data.geometry.Geometry": ("bytes", _geometry),
    "io.debezium.data.geometry.Geography": ("bytes", _geometry),
    "io.debezium.data.geometry.Point": ("bytes", _geometry),
}

# literal Connect type (no semantic name, or one that changes nothing) -> (kind, decoder)
_BY_TYPE: Final[dict[str, tuple[ValueKind, Decoder]]] = {
    "boolean": ("boolean", _boolean),
    "int8": ("int", _integer),
    "int16": ("int", _integer),
    "int32": ("int", _integer),
    "int64": ("long", _integer),
    "float32": ("double", _float),
    "float64": ("double", _float),
    "string": ("string", _text),  # Json, Xml, Uuid, Enum, EnumSet… are text as well
    "bytes": ("bytes", _bytes),
    "struct": ("string", _json_text),
    "array": ("string", _json_text),
    "map": ("string", _json_text),
}


@dataclass(frozen=True, slots=True)
class ColumnDecoder:
    """How one column of a Debezium row image becomes an envelope value."""

    name: str
    kind: ValueKind
    source_type: str  # the Connect schema's semantic name, else its literal type
    nullable: bool
    decode: Decoder

    def value(self, raw: object) -> object:
        if raw is None:
            return None
        try:
            return self.decode(raw)
        except _Bad as exc:
            raise UndecodableValueError(
                f"column {self.name} ({self.source_type}): a {_type_name(raw)} is not {exc}"
            ) from None
        except (ArithmeticError, OverflowError, ValueError) as exc:
            raise UndecodableValueError(
                f"column {self.name} ({self.source_type}): out of range ({type(exc).__name__})"
            ) from None


def column_decoder(schema: ConnectSchema) -> ColumnDecoder:
    """The decoder of a row-image field, from its Connect schema (``{"field", "type",
    "optional", "name", "parameters"}`` as the JsonConverter writes it)."""
    name = str(schema.get("field", ""))
    literal = str(schema.get("type", ""))
    semantic = schema.get("name")
    nullable = bool(schema.get("optional", True))
    if semantic == DECIMAL:
        parameters = schema.get("parameters") or {}
        try:
            scale = int(parameters.get("scale", 0))
        except (TypeError, ValueError):
            raise UndecodableValueError(
                f"column {name} ({DECIMAL}): the schema's scale parameter is not an integer"
            ) from None
        return ColumnDecoder(name, "decimal", DECIMAL, nullable, decimal_decoder(scale))
    if isinstance(semantic, str) and semantic in _BY_NAME:
        kind, decode = _BY_NAME[semantic]
        return ColumnDecoder(name, kind, semantic, nullable, decode)
    if literal not in _BY_TYPE:
        raise UndecodableValueError(f"column {name}: unknown Connect type {literal!r}")
    kind, decode = _BY_TYPE[literal]
    return ColumnDecoder(name, kind, semantic or literal, nullable, decode)


def decode_row(
    columns: tuple[ColumnDecoder, ...], image: Mapping[str, Any] | None
) -> dict[str, object] | None:
    """A row image (``before``/``after``) as the envelope's values, column by column."""
    if image is None:
        return None
    if not isinstance(image, Mapping):
        raise UndecodableValueError(f"a row image is a {_type_name(image)}, not a struct")
    return {column.name: column.value(image.get(column.name)) for column in columns}
