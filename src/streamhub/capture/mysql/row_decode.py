"""Row images of binlog rows events, decoded with a plan per table layout.

pymysqlreplication parses a row image one value at a time through several Python calls
(a packet read, a type dispatch, a bitmap test, a charset lookup per value): three quarters of
a MariaDB server stream's CPU. A ``RowDecoder`` is built once per table layout (a TableMapEvent
whose layout the translator has not seen): one reader per column, chosen by its binlog type and
metadata, that slices the value out of the event's bytes and turns it into the model value
directly (the same value ``types.converter`` makes of the library's). Readers are grouped per
NULL pattern of a row (a NULL column has no bytes), so a row costs a dict lookup, one call per
column and one ``dict(zip(...))``.

The bytes are those of the library's own event object: once a ``RowsEvent`` is constructed its
packet stands at the first row (``event.packet.packet``: PyMySQL's packet, ``_data`` and
``_position``), and the rows end ``event_size - packet.read_bytes`` bytes further. The library's
lazy ``event.rows`` is then never called.

Covered: every integer type, FLOAT/DOUBLE, NEWDECIMAL, DATE, DATETIME2/TIMESTAMP2/TIME2 with
fractional seconds, YEAR, CHAR/VARCHAR/TEXT/BLOB/BINARY with their length prefixes (text decoded
with the column's codec, undecodable bytes reported exactly as ``types.decode_text`` does),
ENUM, SET and BIT. Anything else (MySQL's binary JSON, GEOMETRY, the pre-5.6 temporal formats,
old DECIMAL), and a row image without every column (``binlog_row_image`` other than FULL), goes
through the library (``covers`` / ``decode`` return the reason): the translator converts the
library's values as before and counts the rows in ``streamhub_capture_binlog_library_rows_total``.
``tests/unit/capture/mysql/test_row_decode.py`` holds this decoder to the library's values on
recorded events of every covered type.
"""

from __future__ import annotations

import datetime
import decimal
import struct
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import REGISTRY, Counter
from pymysqlreplication.constants import FIELD_TYPE
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent

from streamhub.capture.errors import UndecodableTextError
from streamhub.capture.mysql import types
from streamhub.core.metrics import MetricNamer, process_wide

Image = dict[str, object]
Bad = list[tuple[str, UndecodableTextError]]
# before image, its undecodable values, after image, its undecodable values
DecodedRow = tuple[Image | None, Bad, Image | None, Bad]
Reader = Callable[[bytes, int], tuple[object, int]]

NO_BAD: Bad = []  # shared, never appended to
_PATTERNS_MAX = 256  # NULL patterns kept per table (a table has a few in practice)
_EPOCH = datetime.datetime(1970, 1, 1)  # naive UTC, as the library's utcfromtimestamp
_DECIMAL_BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)  # bytes of a 0-9 digit group (MySQL's dig2bytes)
_FSP_BYTES = (0, 1, 1, 2, 2, 3, 3)


@process_wide
def library_rows() -> Counter:
    """Rows the library decoded because this decoder does not cover their table or event."""
    return MetricNamer("capture", REGISTRY).counter(
        "binlog_library_rows_total",
        "Binlog rows decoded by pymysqlreplication instead of the compiled row decoder "
        "(a column type or row image it does not cover), by table and reason.",
        ("table", "reason"),
    )


class _Undecodable(Exception):
    """A text value its codec cannot decode; ``end`` is where the next value starts."""

    def __init__(self, error: UndecodableTextError, end: int) -> None:
        super().__init__(error.reason)
        self.error = error
        self.end = end


def _null(buf: bytes, pos: int) -> tuple[object, int]:
    return None, pos


def _fixed(fmt: str, post: Callable[[Any], object] | None = None) -> Reader:
    unpack = struct.Struct(fmt).unpack_from
    size = struct.calcsize(fmt)
    if post is None:

        def read(buf: bytes, pos: int) -> tuple[object, int]:
            return unpack(buf, pos)[0], pos + size

        return read

    def read_post(buf: bytes, pos: int) -> tuple[object, int]:
        return post(unpack(buf, pos)[0]), pos + size

    return read_post


def _int_le(size: int, signed: bool) -> Reader:
    def read(buf: bytes, pos: int) -> tuple[object, int]:
        end = pos + size
        return int.from_bytes(buf[pos:end], "little", signed=signed), end

    return read


def _be_signed(raw: bytes) -> int:
    return int.from_bytes(raw, "big", signed=True)


def _fsp(raw: bytes, fsp: int) -> int:
    """Microseconds from a fractional-seconds part, as the library computes them."""
    if not raw:
        return 0
    micro = _be_signed(raw)
    if fsp % 2:
        micro = int(micro / 10)
    return int(micro * 10 ** (6 - fsp))


def _datetime2(fsp: int) -> Reader:
    extra = _FSP_BYTES[fsp]

    def read(buf: bytes, pos: int) -> tuple[object, int]:
        data = int.from_bytes(buf[pos : pos + 5], "big")
        end = pos + 5 + extra
        year_month = (data >> 22) & 0x1FFFF
        try:
            value = datetime.datetime(
                year_month // 13,
                year_month % 13,
                (data >> 17) & 0x1F,
                (data >> 12) & 0x1F,
                (data >> 6) & 0x3F,
                data & 0x3F,
            )
        except ValueError:  # a zero or invalid date: None, as the library gives
            return None, end
        micro = _fsp(buf[pos + 5 : end], fsp)
        return (value.replace(microsecond=micro) if micro > 0 else value), end

    return read


def _timestamp2(fsp: int) -> Reader:
    extra = _FSP_BYTES[fsp]

    def read(buf: bytes, pos: int) -> tuple[object, int]:
        end = pos + 4 + extra
        value = _EPOCH + datetime.timedelta(seconds=_be_signed(buf[pos : pos + 4]))
        micro = _fsp(buf[pos + 4 : end], fsp)
        return (value.replace(microsecond=micro) if micro > 0 else value), end

    return read


def _time2(fsp: int) -> Reader:
    extra = _FSP_BYTES[fsp]

    def read(buf: bytes, pos: int) -> tuple[object, int]:
        data = _be_signed(buf[pos : pos + 3])
        end = pos + 3 + extra
        sign = 1 if (data >> 23) & 1 else -1
        if sign == -1:
            data = ~data + 1
        value = (
            datetime.timedelta(
                hours=(data >> 12) & 0x3FF,
                minutes=(data >> 6) & 0x3F,
                seconds=data & 0x3F,
                microseconds=_fsp(buf[pos + 3 : end], fsp),
            )
            * sign
        )
        return types.format_time(value), end

    return read


def _date(buf: bytes, pos: int) -> tuple[object, int]:
    value = int.from_bytes(buf[pos : pos + 3], "little")
    year, month, day = value >> 9, (value >> 5) & 0xF, value & 0x1F
    if not (year and month and day):  # 0000-00-00 and partial zero dates: None
        return None, pos + 3
    return datetime.date(year, month, day), pos + 3


def _newdecimal(precision: int, scale: int) -> Reader:
    """DECIMAL's packed digit groups → Decimal, with the library's digits and exponent.

    The groups (a partial one of 1-4 bytes, whole ones of 4 bytes for 9 digits, the same
    after the point) are big-endian; the first bit is the sign (set: positive), and a negative
    number has every bit inverted. Read as one integer, the groups are shifts and masks.
    """
    integral = precision - scale
    whole_int, part_int = divmod(integral, 9)
    whole_frac, part_frac = divmod(scale, 9)
    groups = (
        [(_DECIMAL_BYTES[part_int], part_int)] * bool(part_int)
        + [(4, 9)] * (whole_int + whole_frac)
        + [(_DECIMAL_BYTES[part_frac], part_frac)] * bool(part_frac)
    )
    total = sum(size for size, _ in groups)
    steps = []  # (shift, mask, 10 ** digits) per group, first to last
    offset = total * 8
    for size, digits in groups:
        offset -= size * 8
        steps.append((offset, (1 << size * 8) - 1, 10**digits))
    sign_bit = 1 << (total * 8 - 1)
    negative_flip = sign_bit ^ ((1 << total * 8) - 1)
    exponent = f"E-{scale}"

    def read(buf: bytes, pos: int) -> tuple[object, int]:
        end = pos + total
        raw = int.from_bytes(buf[pos:end], "big")
        sign = ""
        if raw & sign_bit:
            raw ^= sign_bit
        else:
            raw ^= negative_flip
            sign = "-"
        value = 0
        for shift, mask, factor in steps:
            value = value * factor + ((raw >> shift) & mask)
        return decimal.Decimal(f"{sign}{value}{exponent}"), end

    return read


def _bytes(prefix: int) -> Callable[[bytes, int], tuple[bytes, int]]:
    def read(buf: bytes, pos: int) -> tuple[bytes, int]:
        start = pos + prefix
        end = start + int.from_bytes(buf[pos:start], "little")
        return buf[start:end], end

    return read


def _text(prefix: int, codec: str) -> Reader:
    def read(buf: bytes, pos: int) -> tuple[object, int]:
        start = pos + prefix
        end = start + int.from_bytes(buf[pos:start], "little")
        raw = buf[start:end]
        try:
            return raw.decode(codec), end
        except UnicodeDecodeError as exc:
            raise _Undecodable(UndecodableTextError(raw, codec, exc.start), end) from exc

    return read


def _text1(codec: str) -> Reader:
    """A text value with a one-byte length (most VARCHARs): the commonest reader."""

    def read(buf: bytes, pos: int) -> tuple[object, int]:
        end = pos + 1 + buf[pos]
        raw = buf[pos + 1 : end]
        try:
            return raw.decode(codec), end
        except UnicodeDecodeError as exc:
            raise _Undecodable(UndecodableTextError(raw, codec, exc.start), end) from exc

    return read


def _binary(prefix: int, octets: int | None) -> Reader:
    read_bytes = _bytes(prefix)
    if not octets:
        return read_bytes

    def read(buf: bytes, pos: int) -> tuple[object, int]:
        raw, end = read_bytes(buf, pos)
        return raw.ljust(octets, b"\0"), end

    return read


def _enum(size: int, values: Sequence[str] | None) -> Reader:
    def read(buf: bytes, pos: int) -> tuple[object, int]:
        end = pos + size
        index = int.from_bytes(buf[pos:end], "little")
        return (str(values[index]) if values else None), end

    return read


def _set(size: int, values: Sequence[str] | None) -> Reader:
    def read(buf: bytes, pos: int) -> tuple[object, int]:
        end = pos + size
        mask = int.from_bytes(buf[pos:end], "little")
        chosen = sorted({v for i, v in enumerate(values or ()) if mask & (1 << i)})
        return (",".join(chosen) if chosen else None), end

    return read


def _bit(bits: int, size: int) -> Reader:
    mask = (1 << bits) - 1

    def read(buf: bytes, pos: int) -> tuple[object, int]:
        end = pos + size
        return int.from_bytes(buf[pos:end], "big") & mask, end

    return read


def column_shape(column: Any) -> tuple[object, ...]:
    """What a column's reader depends on, beyond its name, type and charset: a change here
    (DECIMAL(10,2) → (12,3), a new ENUM value) needs a new decoder."""
    shape = [getattr(column, a, None) for a in ("length_size", "precision", "decimals", "fsp")]
    shape += [getattr(column, a, None) for a in ("bits", "size")]
    shape += [tuple(getattr(column, a, None) or ()) for a in ("enum_values", "set_values")]
    return tuple(shape)


def reader_for(column: Any, plan: types.ValuePlan) -> Reader | None:
    """The reader of one column, None when this module does not cover its type."""
    t = column.type
    unsigned = bool(column.unsigned)
    if t == FIELD_TYPE.TINY:
        return _fixed("<B" if unsigned else "<b")
    if t == FIELD_TYPE.SHORT:
        return _fixed("<H" if unsigned else "<h")
    if t == FIELD_TYPE.INT24:
        return _int_le(3, signed=not unsigned)
    if t == FIELD_TYPE.LONG:
        return _fixed("<I" if unsigned else "<i")
    if t == FIELD_TYPE.LONGLONG:
        if unsigned:  # BIGINT UNSIGNED is a decimal in the model
            return _fixed("<Q", lambda v: decimal.Decimal(str(v)))
        return _fixed("<q")
    if t == FIELD_TYPE.YEAR:
        return _fixed("<B", lambda v: v + 1900)
    if t == FIELD_TYPE.FLOAT:  # single precision: rounded as types.normalise does
        return _fixed("<f", lambda v: types.normalise("double", "float", v))
    if t == FIELD_TYPE.DOUBLE:
        return _fixed("<d")
    if t == FIELD_TYPE.NEWDECIMAL:
        return _newdecimal(column.precision, column.decimals)
    if t == FIELD_TYPE.DATE:
        return _date
    if t == FIELD_TYPE.DATETIME2:
        return _datetime2(column.fsp)
    if t == FIELD_TYPE.TIMESTAMP2:
        return _timestamp2(column.fsp)
    if t == FIELD_TYPE.TIME2:
        return _time2(column.fsp)
    if t == FIELD_TYPE.ENUM:
        return _enum(column.size, column.enum_values)
    if t == FIELD_TYPE.SET:
        return _set(column.size, column.set_values)
    if t == FIELD_TYPE.BIT:
        return _bit(column.bits, column.bytes)
    if t in (FIELD_TYPE.VARCHAR, FIELD_TYPE.STRING):
        prefix = 2 if column.max_length > 255 else 1
    elif t == FIELD_TYPE.BLOB:
        prefix = column.length_size
    else:
        return None  # JSON, GEOMETRY, old DECIMAL/DATETIME/TIME/TIMESTAMP, …
    if plan.codec is not None:
        return _text1(plan.codec) if prefix == 1 else _text(prefix, plan.codec)
    if plan.kind == "bytes":
        return _binary(prefix, plan.octets if plan.data_type == "binary" else None)
    return None  # a string type the plan does not read as text or bytes


class RowDecoder:
    """The row images of one table layout's rows events (module docstring)."""

    def __init__(self, names: Sequence[str], readers: Sequence[Reader]) -> None:
        self._names = tuple(names)
        self._readers = tuple(readers)
        count = len(self._names)
        self._count = count
        self._null_bytes = (count + 7) // 8
        self._all = (1 << count) - 1
        self._patterns: dict[bytes, tuple[Reader, ...]] = {}

    @classmethod
    def build(cls, columns: Sequence[Any], plans: Sequence[types.ValuePlan]) -> RowDecoder | str:
        """A decoder for the table, or why there is none (a column type not covered)."""
        readers = []
        for column, plan in zip(columns, plans, strict=True):
            reader = reader_for(column, plan)
            if reader is None:
                return f"column type {column.type} ({plan.data_type})"
            readers.append(reader)
        return cls([c.name for c in columns], readers)

    def covers(self, event: Any) -> str | None:
        """None when ``decode`` reads ``event``; else why the library must."""
        if event.number_of_columns != self._count:
            return "column count"
        bitmaps = [event.columns_present_bitmap]
        if isinstance(event, UpdateRowsEvent):
            bitmaps.append(event.columns_present_bitmap2)
        full = self._all
        if any(int.from_bytes(b, "little") & full != full for b in bitmaps):
            return "partial row image"
        if getattr(event.packet, "_BinLogPacketWrapper__data_buffer", b""):
            return "pushed-back bytes"  # never so after a rows event's header
        return None

    def decode(self, event: Any) -> list[DecodedRow]:
        """Every row of ``event`` (``covers`` said yes) as (before, its undecodable values,
        after, its undecodable values): a write has no before image, a delete no after."""
        wrapper = event.packet
        packet = wrapper.packet
        buf: bytes = packet._data
        pos: int = packet._position
        end = pos + event.event_size - wrapper.read_bytes
        image = self._image
        out: list[DecodedRow] = []
        if isinstance(event, UpdateRowsEvent):
            while pos < end:
                before, bad_before, pos = image(buf, pos)
                after, bad_after, pos = image(buf, pos)
                out.append((before, bad_before, after, bad_after))
        elif isinstance(event, DeleteRowsEvent):
            while pos < end:
                values, bad, pos = image(buf, pos)
                out.append((values, bad, None, NO_BAD))
        else:
            while pos < end:
                values, bad, pos = image(buf, pos)
                out.append((None, NO_BAD, values, bad))
        return out

    def _image(self, buf: bytes, pos: int) -> tuple[Image, Bad, int]:
        start = pos + self._null_bytes
        nulls = buf[pos:start]
        readers = self._patterns.get(nulls)
        if readers is None:
            readers = self._pattern(nulls)
        pos = start
        values: list[object] = []
        append = values.append
        bad = NO_BAD
        for read in readers:
            try:
                value, pos = read(buf, pos)
            except _Undecodable as exc:
                value, pos = None, exc.end
                if bad is NO_BAD:
                    bad = []
                bad.append((self._names[len(values)], exc.error))
            append(value)
        return dict(zip(self._names, values, strict=True)), bad, pos

    def _pattern(self, nulls: bytes) -> tuple[Reader, ...]:
        bits = int.from_bytes(nulls, "little")
        readers = tuple(_null if bits & (1 << i) else read for i, read in enumerate(self._readers))
        if len(self._patterns) < _PATTERNS_MAX:
            self._patterns[nulls] = readers
        return readers
