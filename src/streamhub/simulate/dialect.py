"""Vendor dialects as data: one YAML file per vendor describes its tables and codes.

A dialect maps each canonical entity to a table (name, system database, columns,
primary key) and each canonical code to the vendor's local code. Rendering a
canonical row applies those maps plus the vendor's habits: dates as compact
strings, text written as encoded bytes the database does not check.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from streamhub.codes import catalogue
from streamhub.simulate.errors import DialectError
from streamhub.simulate.records import (
    AUDIT_FIELDS,
    CATALOGUE_CODE_SETS,
    CODE_SETS,
    ENTITIES,
    SYSTEMS,
)

Engine = Literal["postgres", "mariadb"]
TEXT_TYPES = ("CHAR", "VARCHAR", "TEXT", "NVARCHAR")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    field: str = Field(description="canonical field the column holds")
    type: str = Field(description="SQL type in the engine's own syntax")
    code: str | None = Field(None, description="code set translating canonical values")

    @property
    def textual(self) -> bool:
        return self.type.upper().startswith(TEXT_TYPES)


class TableSpec(_Strict):
    name: str
    system: Literal["his", "emr", "lis", "pacs"]
    primary_key: str
    columns: dict[str, ColumnSpec]

    def column_for(self, field: str) -> str:
        for name, spec in self.columns.items():
            if spec.field == field:
                return name
        raise KeyError(field)


class AddedColumn(_Strict):
    """A column the schema-change fault adds while the workload runs."""

    entity: str
    column: str
    type: str
    value: str = Field(description="template for new rows' value; {key} is the row key")


class Dialect(_Strict):
    name: str
    vendor: str
    description: str
    engine: Engine
    text_encoding: str = "utf-8"
    raw_text: bool = Field(
        False, description="text is written as encoded bytes into byte-transparent columns"
    )
    compact_times: bool = Field(
        False, description="datetimes as yyyyMMddHHmmss strings, dates as yyyyMMdd"
    )
    table_options: str = ""
    codes: dict[str, dict[str, str]]
    tables: dict[str, TableSpec]
    schema_changes: list[AddedColumn] = []

    @model_validator(mode="after")
    def _covers_the_workload(self) -> Dialect:
        problems: list[str] = []
        for entity, fields in ENTITIES.items():
            table = self.tables.get(entity)
            if table is None:
                problems.append(f"no table for entity {entity!r}")
                continue
            known = set(fields) | set(AUDIT_FIELDS)
            mapped = {spec.field for spec in table.columns.values()}
            for name, spec in table.columns.items():
                if spec.field not in known:
                    problems.append(f"{table.name}.{name}: unknown field {spec.field!r}")
                if spec.code is not None and spec.code not in self.codes:
                    problems.append(f"{table.name}.{name}: code set {spec.code!r} not defined")
            for needed in (fields[0], *AUDIT_FIELDS):
                if needed not in mapped:
                    problems.append(f"{table.name}: no column holds {needed!r}")
            if (
                table.columns.get(table.primary_key, ColumnSpec(field="", type="")).field
                != (fields[0])
            ):
                problems.append(f"{table.name}: primary key must hold {fields[0]!r}")
        for code_set, values in CODE_SETS.items():
            missing = set(values) - set(self.codes.get(code_set, {}))
            if code_set in self.codes and missing:
                problems.append(f"code set {code_set!r} lacks {sorted(missing)}")
        if "department" in self.codes:
            standard = {d.code for d in catalogue.departments()}
            missing = standard - set(self.codes["department"])
            if missing:
                problems.append(f"code set 'department' lacks {sorted(missing)}")
        unknown_sets = set(self.codes) - set(CODE_SETS) - set(CATALOGUE_CODE_SETS)
        if unknown_sets:
            problems.append(f"unknown code sets {sorted(unknown_sets)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def systems(self) -> tuple[str, ...]:
        return tuple(s for s in SYSTEMS if any(t.system == s for t in self.tables.values()))

    def entities_in(self, system: str) -> list[str]:
        return [entity for entity, table in self.tables.items() if table.system == system]


Converter = Callable[[object], object]


class RowRenderer:
    """Turns canonical values into one table's column values, precomputed per column."""

    def __init__(self, dialect: Dialect, entity: str) -> None:
        self.table = dialect.tables[entity]
        self._columns = [
            (name, spec.field, self._converter(dialect, spec))
            for name, spec in self.table.columns.items()
        ]
        self.key_column = self.table.primary_key
        self.key_converter = self._converter(dialect, self.table.columns[self.key_column])
        self._encode = self._converter(dialect, ColumnSpec(field="", type="varchar"))
        self.added: list[tuple[str, str]] = []  # columns added at run time, with their template

    def add_column(self, column: str, template: str) -> None:
        """New inserts fill ``column`` from ``template`` (``{key}`` is the row key)."""
        self.added.append((column, template))

    @staticmethod
    def _converter(dialect: Dialect, spec: ColumnSpec) -> Converter:
        mapping = dialect.codes.get(spec.code) if spec.code else None
        textual = spec.textual
        compact = dialect.compact_times
        encoding = dialect.text_encoding if dialect.raw_text else None

        def convert(value: object) -> object:
            if value is None or isinstance(value, bytes):
                return value  # bytes are planted undecodable text: written as they are
            if mapping is not None:
                value = mapping[str(value)]
            if compact and isinstance(value, datetime):
                value = value.strftime("%Y%m%d%H%M%S")
            elif compact and isinstance(value, date):
                value = value.strftime("%Y%m%d")
            elif textual and not isinstance(value, str):
                value = str(value)
            if encoding is not None and isinstance(value, str):
                return value.encode(encoding)
            return value

        return convert

    def render(self, values: dict[str, object], insert_key: int | None = None) -> dict[str, object]:
        """Column values for the canonical fields present in ``values``.

        ``insert_key`` marks an insert: columns added at run time are filled too.
        """
        row = {
            column: convert(values[field])
            for column, field, convert in self._columns
            if field in values
        }
        if insert_key is not None:
            for column, template in self.added:
                row[column] = self._encode(template.format(key=insert_key))
        return row

    def key(self, key: int) -> object:
        return self.key_converter(key)


DIALECT_DIR = "dialects"


def available() -> list[str]:
    root = resources.files("streamhub.simulate") / DIALECT_DIR
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


@cache
def load(name: str) -> Dialect:
    """Load a packaged dialect by name, or a dialect file by path."""
    if name.endswith((".yaml", ".yml")):
        text, origin = Path(name).read_text(encoding="utf-8"), name
    else:
        resource = resources.files("streamhub.simulate") / DIALECT_DIR / f"{name}.yaml"
        if not resource.is_file():
            raise DialectError(f"unknown dialect {name!r}; available: {', '.join(available())}")
        text, origin = resource.read_text(encoding="utf-8"), str(resource)
    try:
        return Dialect.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise DialectError(f"dialect file {origin} is invalid: {exc}") from exc
