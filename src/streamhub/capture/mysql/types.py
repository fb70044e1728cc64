"""MySQL/MariaDB column types → model kinds, and one value conversion for log and snapshot.

The binlog (pymysqlreplication) and a SELECT (PyMySQL) hand back different Python values for
the same stored value: FLOAT widened from float32 vs the server's 6-digit text, SET as a Python
set vs ``"a,b"``, zero dates as None vs a str, BINARY(n) without vs with its 0x00 padding, TIME
as timedelta, BIT as ``"0101"`` vs bytes. ``ValuePlan.convert`` maps both to one value, so a row
read either way compares equal.

Times: DATETIME carries no zone and stays a naive datetime ("local_timestamp_ms": the source's
wall clock). TIMESTAMP is stored in UTC: the binlog yields naive UTC and the snapshot session
runs with ``time_zone='+00:00'``, so both give naive UTC. The stack's server runs UTC
(``--default-time-zone=+00:00``), where the two kinds of column agree.

Text (``text_codec``), decided per column from the charset the server records for it:

- utf8mb4/utf8mb3 columns are UTF-8 whatever the connector says: the server validated them.
- latin1 columns are byte-transparent (the server stores any byte), which is why legacy
  systems keep GBK in them: they are decoded with the connector's ``encoding``. A column whose
  charset is unknown is treated the same way.
- any other charset (gbk, gb18030, big5, …) is decoded with that charset's own codec.
- binary-charset columns (BINARY, VARBINARY, BLOB) are bytes and never decoded.
"""

from __future__ import annotations

import codecs
import datetime
import decimal
from collections.abc import Callable
from dataclasses import dataclass

from pymysqlreplication.constants import FIELD_TYPE

from streamhub.capture.errors import UndecodableTextError
from streamhub.capture.model import ValueKind

UTF8_CHARSETS = frozenset({"utf8mb4", "utf8mb3", "utf8"})
TRANSPARENT_CHARSETS = frozenset({"latin1"})
TEXT_TYPES = frozenset({"char", "varchar", "tinytext", "text", "mediumtext", "longtext"})
BINARY_TYPES = frozenset({"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"})
GEOMETRY_TYPES = frozenset(
    {
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
    }
)
_SMALL_INTS = frozenset({"tinyint", "smallint", "mediumint", "year"})
# MySQL charset names that are not Python codec names or aliases
_CODEC_ALIASES = {
    "ucs2": "utf-16-be",
    "utf16": "utf-16-be",
    "utf16le": "utf-16-le",
    "utf32": "utf-32-be",
    "ujis": "euc_jp",
    "eucjpms": "euc_jp",
    "koi8r": "koi8_r",
    "koi8u": "koi8_u",
    "hebrew": "iso8859_8",
    "greek": "iso8859_7",
    "latin2": "iso8859_2",
    "latin5": "iso8859_9",
    "latin7": "iso8859_13",
    "macce": "mac_latin2",
    "macroman": "mac_roman",
}
# binlog column type → information_schema DATA_TYPE; string types depend on the charset
_BINLOG_TYPES = {
    FIELD_TYPE.TINY: "tinyint",
    FIELD_TYPE.SHORT: "smallint",
    FIELD_TYPE.INT24: "mediumint",
    FIELD_TYPE.LONG: "int",
    FIELD_TYPE.LONGLONG: "bigint",
    FIELD_TYPE.DECIMAL: "decimal",
    FIELD_TYPE.NEWDECIMAL: "decimal",
    FIELD_TYPE.FLOAT: "float",
    FIELD_TYPE.DOUBLE: "double",
    FIELD_TYPE.DATE: "date",
    FIELD_TYPE.NEWDATE: "date",
    FIELD_TYPE.DATETIME: "datetime",
    FIELD_TYPE.DATETIME2: "datetime",
    FIELD_TYPE.TIMESTAMP: "timestamp",
    FIELD_TYPE.TIMESTAMP2: "timestamp",
    FIELD_TYPE.TIME: "time",
    FIELD_TYPE.TIME2: "time",
    FIELD_TYPE.YEAR: "year",
    FIELD_TYPE.BIT: "bit",
    FIELD_TYPE.ENUM: "enum",
    FIELD_TYPE.SET: "set",
    FIELD_TYPE.JSON: "json",
    FIELD_TYPE.GEOMETRY: "geometry",
}
_STRING_TYPES = {  # binlog string type → (text DATA_TYPE, binary DATA_TYPE)
    FIELD_TYPE.VARCHAR: ("varchar", "varbinary"),
    FIELD_TYPE.VAR_STRING: ("varchar", "varbinary"),
    FIELD_TYPE.STRING: ("char", "binary"),
    FIELD_TYPE.BLOB: ("text", "blob"),
    FIELD_TYPE.TINY_BLOB: ("text", "blob"),
    FIELD_TYPE.MEDIUM_BLOB: ("text", "blob"),
    FIELD_TYPE.LONG_BLOB: ("text", "blob"),
}
STRING_FIELD_TYPES = frozenset(_STRING_TYPES)


def kind_of(data_type: str, unsigned: bool = False) -> ValueKind:
    """The Avro shape of an information_schema DATA_TYPE (lower case, e.g. ``varchar``)."""
    if data_type in _SMALL_INTS:
        return "int"
    if data_type in ("int", "integer"):
        return "long" if unsigned else "int"  # INT UNSIGNED reaches 2**32 - 1
    if data_type == "bigint":
        return "decimal" if unsigned else "long"  # BIGINT UNSIGNED overflows a long
    if data_type == "bit":
        return "long"
    if data_type in ("decimal", "numeric"):
        return "decimal"
    if data_type in ("float", "double", "real"):
        return "double"
    if data_type == "date":
        return "date"
    if data_type in ("datetime", "timestamp"):
        return "local_timestamp_ms"
    if data_type in BINARY_TYPES or data_type in GEOMETRY_TYPES:
        return "bytes"
    return "string"  # char/varchar/text, enum, set, time, json, others


def binlog_data_type(field_type: int, charset: str | None) -> str:
    """The DATA_TYPE a binlog column type stands for (``charset`` tells TEXT from BLOB)."""
    if field_type in _STRING_TYPES:
        text, binary = _STRING_TYPES[field_type]
        return binary if charset == "binary" else text
    return _BINLOG_TYPES.get(field_type, "unknown")


def text_codec(charset: str | None, connector_encoding: str) -> str:
    """The Python codec for a text column's MySQL charset (rule in the module docstring)."""
    if charset is None or charset in TRANSPARENT_CHARSETS:
        return connector_encoding
    if charset in UTF8_CHARSETS:
        return "utf-8"
    name = _CODEC_ALIASES.get(charset, charset)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return connector_encoding


def decode_text(raw: bytes, codec: str) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise UndecodableTextError(raw, codec, exc.start) from exc


@dataclass(frozen=True)
class ValuePlan:
    """How to turn one column's value (from the binlog or a SELECT) into the model value."""

    name: str
    data_type: str  # information_schema DATA_TYPE, lower case
    kind: ValueKind
    codec: str | None = None  # text columns: the codec their bytes are decoded with
    octets: int | None = None  # BINARY(n): width to restore the padding the binlog strips

    def convert(self, value: object) -> object:
        """The model value; text must arrive as the stored bytes. Raises UndecodableTextError."""
        if value is None:
            return None
        if self.codec is not None:
            return decode_text(_as_bytes(value), self.codec)
        if self.kind == "bytes":
            raw = _as_bytes(value)
            if self.data_type == "binary" and self.octets:
                raw = raw.ljust(self.octets, b"\0")
            return raw
        return normalise(self.kind, self.data_type, value)


def converter(plan: ValuePlan, carried: bool) -> Callable[[object], object]:
    """``plan.convert`` for the binlog's values, without its round trips where the library
    already gives the model value (int, Decimal, datetime); ``carried``: text arrives
    latin-1-carried (``translator``) and goes back to its stored bytes first."""
    convert = plan.convert
    codec = plan.codec
    if codec is not None:

        def text(value: object) -> object:
            if value is None:
                return None
            raw = value.encode("latin-1") if carried and type(value) is str else _as_bytes(value)
            return decode_text(raw, codec)

        return text
    if carried:
        return lambda value: convert(value.encode("latin-1") if type(value) is str else value)
    passing = _PASS_THROUGH.get(plan.kind) if plan.data_type != "bit" else None
    if passing is None:
        return convert
    return lambda value: value if type(value) is passing else convert(value)


_PASS_THROUGH: dict[str, type] = {
    "int": int,
    "long": int,
    "decimal": decimal.Decimal,
    "local_timestamp_ms": datetime.datetime,
}


def normalise(kind: ValueKind, data_type: str, value: object) -> object:
    """One Python value per stored value, whichever side read it (None stays None)."""
    if value is None:
        return None
    if data_type == "bit":
        if isinstance(value, str):  # pymysqlreplication: "0101"
            return int(value, 2) if value else 0
        return int.from_bytes(_as_bytes(value), "big")
    if kind in ("int", "long"):
        return int(str(value))
    if kind == "decimal":
        return decimal.Decimal(str(value))
    if kind == "double":
        number = float(str(value))
        # FLOAT is single precision: round to FLT_DIG (6) digits, what MariaDB itself prints
        return float(f"{number:.6g}") if data_type == "float" else number
    if kind == "date":
        if isinstance(value, datetime.datetime):
            return value.date()
        return value if isinstance(value, datetime.date) else None  # "0000-00-00" → None
    if kind == "local_timestamp_ms":
        return value if isinstance(value, datetime.datetime) else None
    if kind == "bytes":
        return _as_bytes(value)
    return _text_value(data_type, value)


def _text_value(data_type: str, value: object) -> str:
    if isinstance(value, datetime.timedelta):
        return format_time(value)
    if isinstance(value, set | frozenset):
        return ",".join(sorted(str(v) for v in value))
    if data_type == "set" and isinstance(value, str):
        return ",".join(sorted(v for v in value.split(",") if v))
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)


def format_time(value: datetime.timedelta) -> str:
    """A TIME value as MySQL prints it: ``[-]HH:MM:SS[.ffffff]`` (hours may exceed 24)."""
    sign = "-" if value < datetime.timedelta(0) else ""
    micros = abs(value) // datetime.timedelta(microseconds=1)
    seconds, micro = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{micro:06d}" if micro else text


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"expected bytes, got {type(value).__name__}")
