"""The change envelope's shape, checked once where it is decoded.

A message can decode cleanly against whatever writer schema its id names and still not be
a change envelope (``source`` a string, no ``op``, ``after`` a list). Everything after the
decode step indexes into the envelope freely, so the shape is checked here, field by field,
and a wrong one becomes an :class:`EnvelopeShapeError` (a dead letter), never a ``TypeError``
deep in the mapper that would crash-loop the worker. Messages name fields and types, never
values: the envelope holds personal data in clear.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from streamhub.standardize.errors import EnvelopeShapeError

OPS = frozenset({"c", "u", "d", "r"})
# source field -> the Python types fastavro gives for it (see avro_schemas/cdc/change_envelope.avsc)
_SOURCE_FIELDS: dict[str, tuple[type, ...]] = {
    "institution_id": (str,),
    "system": (str,),
    "connector": (str,),
    "database": (str,),
    "schema": (str, type(None)),
    "table": (str,),
    "position": (str,),
    "position_seq": (int,),
    "commit_ts_ms": (int,),
}
# what a row image's cell decodes to under the per-table schemas (capture/envelope.py
# AVRO_TYPES): scalars only; a container in a cell is not a change envelope's row
_CELL_TYPES: tuple[type, ...] = (str, int, float, bool, bytes, date, type(None))
# the exact types fastavro gives: a membership test per value, the isinstance rules only for
# what is not one of them (a subclass)
_CELL_EXACT: frozenset[type] = frozenset({*_CELL_TYPES, datetime})
_SOURCE_EXACT: dict[str, frozenset[type]] = {
    name: frozenset(types) for name, types in _SOURCE_FIELDS.items()
}


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _is(value: object, types: tuple[type, ...]) -> bool:
    # bool is an int to Python, not to Avro
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def check_envelope(value: object, where: str) -> dict[str, Any]:
    """``value`` as a change envelope, or :class:`EnvelopeShapeError` naming the first field
    that is missing or of the wrong type (``where`` is the message's topic[partition]@offset)."""

    def wrong(field: str, expected: str, got: object) -> EnvelopeShapeError:
        return EnvelopeShapeError(
            f"{where}: not a change envelope: {field} is {_type_name(got)}, expected {expected} "
            "(the writer schema is not cdc.raw's change envelope; fix the producer)"
        )

    def missing(field: str) -> EnvelopeShapeError:
        return EnvelopeShapeError(
            f"{where}: not a change envelope: no {field} "
            "(the writer schema is not cdc.raw's change envelope; fix the producer)"
        )

    if not isinstance(value, dict):
        raise wrong("the message", "a record", value)
    for name in ("source", "op", "ts_ms"):
        if name not in value:
            raise missing(name)
    source = value["source"]
    if not isinstance(source, dict):
        raise wrong("source", "a record", source)
    for name, exact in _SOURCE_EXACT.items():
        if name not in source:
            raise missing(f"source.{name}")
        given = source[name]
        if type(given) not in exact and not _is(given, types := _SOURCE_FIELDS[name]):
            raise wrong(f"source.{name}", " or ".join(_avro_name(t) for t in types), given)
    op = value["op"]
    if not isinstance(op, str):
        raise wrong("op", "one of c, u, d, r", op)
    if op not in OPS:
        raise EnvelopeShapeError(f"{where}: not a change envelope: op is not one of c, u, d, r")
    if type(value["ts_ms"]) is not int and not _is(value["ts_ms"], (int,)):
        raise wrong("ts_ms", "long", value["ts_ms"])
    for name in ("before", "after"):
        image = value.get(name)
        if image is None:
            continue
        if not isinstance(image, Mapping):
            raise wrong(name, "a record of column -> value", image)
        for column, cell in image.items():
            if type(column) is str and type(cell) in _CELL_EXACT:
                continue
            if not isinstance(column, str) or not isinstance(cell, _CELL_TYPES):
                raise EnvelopeShapeError(
                    f"{where}: not a change envelope: {name} holds a {_type_name(cell)} value "
                    "where a row image has a scalar (text, number, time, bytes) or null"
                )
    row = value.get("before") if op == "d" else value.get("after")
    if row is None:
        raise EnvelopeShapeError(f"{where}: op {op} envelope has no row image")
    return value


def _avro_name(t: type) -> str:
    return {str: "string", int: "long", type(None): "null"}.get(t, t.__name__)
