"""PostgreSQL types as model value kinds, and text values as Python values.

Both readers see values in PostgreSQL's text output (pgoutput sends text; the
snapshot selects ``col::text``) and convert them here, so the log and the
snapshot agree value for value. Both sessions pin the settings that shape the
text (``SESSION_OPTIONS``). A value that cannot be converted comes back as a
``BadValue`` so the reader can send it to the dead-letter path instead of
failing the whole stream.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from operator import methodcaller
from typing import Final

from streamhub.capture.model import ValueKind

# Session settings for every connection whose text output we parse.
SESSION_OPTIONS: Final = (
    "-c DateStyle=ISO -c IntervalStyle=postgres -c TimeZone=UTC "
    "-c extra_float_digits=1 -c bytea_output=hex"
)

KIND_BY_OID: Final[dict[int, ValueKind]] = {
    16: "boolean",  # bool
    17: "bytes",  # bytea
    20: "long",  # int8
    21: "int",  # int2
    23: "int",  # int4
    700: "double",  # float4
    701: "double",  # float8
    1082: "date",
    1114: "local_timestamp_ms",  # timestamp without time zone
    1184: "timestamp_ms",  # timestamp with time zone
    1700: "decimal",  # numeric
}

KIND_BY_NAME: Final[dict[str, ValueKind]] = {
    "bool": "boolean",
    "boolean": "boolean",
    "bytea": "bytes",
    "int8": "long",
    "bigint": "long",
    "int2": "int",
    "smallint": "int",
    "int4": "int",
    "integer": "int",
    "float4": "double",
    "real": "double",
    "float8": "double",
    "double precision": "double",
    "date": "date",
    "timestamp": "local_timestamp_ms",
    "timestamp without time zone": "local_timestamp_ms",
    "timestamptz": "timestamp_ms",
    "timestamp with time zone": "timestamp_ms",
    "numeric": "decimal",
    "decimal": "decimal",
}

# "timestamp(3) without time zone" -> "timestamp without time zone"
_MODIFIER = re.compile(r"\s*\([^)]*\)")


def kind_for_oid(type_oid: int) -> ValueKind:
    """The value kind of a type OID; every type not listed is carried as text."""
    return KIND_BY_OID.get(type_oid, "string")


def kind_for_name(type_name: str) -> ValueKind:
    """The value kind of a type name as ``format_type`` prints it (modifiers ignored)."""
    return KIND_BY_NAME.get(_MODIFIER.sub("", type_name).strip().lower(), "string")


@dataclass(frozen=True)
class BadValue:
    """A value that the connector's encoding cannot decode, or Python cannot hold."""

    reason: str


def convert(raw: bytes, kind: ValueKind, encoding: str) -> object:
    """The Python value of one column's text bytes, or a ``BadValue`` saying why not."""
    if kind == "string":
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            return BadValue(
                f"not valid {encoding} text: byte {exc.start} (0x{raw[exc.start]:02x}) "
                f"of {len(raw)}: {exc.reason}"
            )
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        return BadValue(f"{kind} text is not ASCII at byte {exc.start} of {len(raw)}")
    try:
        return _PARSERS[kind](text)
    except (ValueError, InvalidOperation, OverflowError) as exc:
        # never the value nor the parser's message (which quotes it): a birth date or an ID
        # number stored as a number is personal
        what = f"{kind} value of {len(text)} characters"
        return BadValue(f"{what} cannot be represented ({type(exc).__name__})")


def _bool(text: str) -> bool:
    # pgoutput sends the type's output form t/f; a snapshot's bool::text reads true/false
    if text in ("t", "true"):
        return True
    if text in ("f", "false"):
        return False
    raise ValueError("expected t/f or true/false")


def _decimal(text: str) -> Decimal:
    return Decimal(text)


def _date(text: str) -> date:
    # infinity, BC dates and years past 9999 have no Python date: ValueError
    return date.fromisoformat(text)


def _local_timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None:
        raise ValueError("a timestamp without time zone carries an offset")
    return value


def _timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("a timestamp with time zone lacks its offset")
    return value.astimezone(UTC)


def _bytea(text: str) -> bytes:
    if not text.startswith("\\x"):
        raise ValueError("bytea is not in hex format (set bytea_output = hex)")
    return bytes.fromhex(text[2:])


_PARSERS: Final[dict[str, Callable[[str], object]]] = {
    "int": int,
    "long": int,
    "boolean": _bool,
    "double": float,
    "decimal": _decimal,
    "date": _date,
    "local_timestamp_ms": _local_timestamp,
    "timestamp_ms": _timestamp,
    "bytes": _bytea,
}


Parser = Callable[[bytes], object]
_BOOLEANS: Final[dict[bytes, bool]] = {b"t": True, b"true": True, b"f": False, b"false": False}


def _ascii(parse: Callable[[str], object]) -> Parser:
    def parse_text(raw: bytes) -> object:
        return parse(raw.decode("ascii"))

    return parse_text


_FAST_PARSERS: Final[dict[str, Parser]] = {
    "int": int,  # int() and float() read ASCII digits from bytes, and refuse other bytes
    "long": int,
    "double": float,
    "boolean": _BOOLEANS.__getitem__,
    **{kind: _ascii(_PARSERS[kind]) for kind in ("decimal", "date", "bytes")},
    **{kind: _ascii(_PARSERS[kind]) for kind in ("local_timestamp_ms", "timestamp_ms")},
}


def parser_for(kind: ValueKind, encoding: str) -> Parser:
    """A column's fast converter: the value :func:`convert` gives for well-formed text, and
    an exception for anything else (call :func:`convert` then, for the ``BadValue``)."""
    if kind != "string":
        return _FAST_PARSERS[kind]
    if codecs.lookup(encoding).name == "utf-8":
        return bytes.decode  # strict UTF-8, as raw.decode("utf-8")
    decode: Parser = methodcaller("decode", encoding)
    return decode
