"""A dialect's tables as a capture reader describes them, and rendered rows as its values.

The capture agent's readers describe a table by its columns' engine types (mapped to value
kinds by the engines' own type modules) and hand over rows as Python values of those kinds.
The fleet has no database, so it builds the same :class:`TableInfo` from the dialect's
column types and turns the simulator's rendered rows into what the reader would have read:
text decoded (a GBK dialect's bytes are text again), CHAR(n) as the engine returns it,
numerics at their column's scale, datetimes at the column's precision.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from streamhub.capture.model import ColumnInfo, TableInfo, ValueKind
from streamhub.capture.mysql.types import kind_of
from streamhub.capture.postgres.types import kind_for_name
from streamhub.simulate.dialect import Dialect, TableSpec

_TYPE = re.compile(r"\s*([A-Za-z ]+?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")
Convert = Callable[[object], object]
TRUE_TEXTS = frozenset({"true", "t", "yes", "y", "on", "1"})


def column_kind(engine: str, sql_type: str) -> ValueKind:
    """The value kind the engine's capture reader gives a column of ``sql_type``."""
    if engine == "postgres":
        return kind_for_name(sql_type)
    match = _TYPE.match(sql_type)
    return kind_of(match[1].lower() if match else sql_type.lower())


def table_info(dialect: Dialect, entity: str, database: str) -> TableInfo:
    spec = dialect.tables[entity]
    columns = tuple(
        ColumnInfo(
            name,
            column.type,
            column_kind(dialect.engine, column.type),
            key=name == spec.primary_key,
            nullable=name != spec.primary_key,
        )
        for name, column in spec.columns.items()
    )
    schema = "public" if dialect.engine == "postgres" else None
    return TableInfo(database, schema, spec.name, columns)


def _identity(value: object) -> object:
    return value


def _converter(engine: str, sql_type: str, kind: ValueKind) -> Convert:
    match = _TYPE.match(sql_type)
    base = match[1].lower() if match else sql_type.lower()
    length = int(match[2]) if match and match[2] else None
    scale = int(match[3]) if match and match[3] else 0
    if kind == "decimal":
        quantum = Decimal(1).scaleb(-scale)
        return lambda v: Decimal(str(v)).quantize(quantum) if v is not None else None
    if kind == "local_timestamp_ms":
        if engine == "postgres":  # timestamp(3): milliseconds kept
            return lambda v: (
                v.replace(microsecond=v.microsecond // 1000 * 1000)
                if isinstance(v, datetime)
                else v
            )
        return lambda v: v.replace(microsecond=0) if isinstance(v, datetime) else v
    if kind == "string":
        if engine == "postgres" and base in ("char", "character") and length:
            # bpchar's text output is blank-padded to its length
            return lambda v: v.ljust(length) if isinstance(v, str) else v
        if engine != "postgres" and base == "char":
            return lambda v: v.rstrip(" ") if isinstance(v, str) else v  # MariaDB strips
    if kind == "boolean":  # the dialect's code may be text the engine parses ('true', 't')
        return lambda v: v if isinstance(v, bool) else str(v).lower() in TRUE_TEXTS
    if kind in ("int", "long"):
        return lambda v: int(v) if isinstance(v, int | str) and v != "" else v
    return _identity


class RowReader:
    """Turns one table's rendered rows (column -> value) into the reader's values."""

    def __init__(self, dialect: Dialect, spec: TableSpec) -> None:
        engine = dialect.engine
        self._plan = [
            (name, _converter(engine, column.type, column_kind(engine, column.type)))
            for name, column in spec.columns.items()
        ]
        self._converts = dict(self._plan)

    def read(self, rendered: dict[str, object]) -> dict[str, object]:
        """The converted values of the columns present in ``rendered``."""
        converts = self._converts
        return {
            name: (None if value is None else converts[name](value))
            for name, value in rendered.items()
            if name in converts
        }
