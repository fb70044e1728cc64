"""ClickHouse columns of the std entity tables, derived from the canonical models.

The migrations hold the tables' DDL as committed SQL (versioned, checksummed); this
module says which column type each model field must have, so a test can keep the two
in agreement and the lander knows what to write. ``render_entity_table`` produced the
first migration and writes the statement a new entity's migration starts from.
"""

from __future__ import annotations

import typing
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from streamhub.standardize.avro_schema import DECIMAL_PRECISION, optional_type
from streamhub.standardize.model import ENTITY_MODELS, StdRecord, field_meta

# Code sets with few distinct values per table: dictionary-encoded columns are smaller and
# faster to group by. Institutions count in thousands, still well inside LowCardinality's range.
LOW_CARDINALITY = frozenset(
    {
        "institution_id",
        "source_system",
        "source_database",
        "source_table",
        "profile",
        "department_code",
        "department_name",
        "local_department_code",
        "ward",
        "status",
        "drug_category",
        "dose_unit",
        "route",
        "frequency",
        "order_kind",
        "category",
        "diagnosis_type",
        "id_type",
        "sex_code",
        "age_band",
        "region_code",
        "region_name",
        "unit",
        "abnormal_flag",
        "modality",
        "body_part",
        "panel",
    }
)
# The version column must be unsigned for ReplacingMergeTree, log positions never go negative.
VERSION_COLUMN = "source_position_seq"
DELETED_COLUMN = "deleted"
# Where the row came from in Kafka and when it landed: tracing and freshness, not the model.
LANDING_COLUMNS = {
    "_topic": "LowCardinality(String)",
    "_partition": "UInt32",
    "_offset": "UInt64",
}
# Filled by ClickHouse when the insert is stored: when the row became queryable.
LANDED_TIME = ("_landed_time", "DateTime64(3, 'UTC') DEFAULT now64(3)")
ORDER_BY = ("institution_id", "record_id")


def table_name(entity: str) -> str:
    return f"std_{entity}"


def _scalar(name: str, annotation: Any, meta: dict[str, Any]) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return "LowCardinality(String)"
    if annotation is str:
        return "LowCardinality(String)" if name in LOW_CARDINALITY else "String"
    if annotation is bool:
        return "Bool"
    if annotation is int:
        return "UInt64" if name == VERSION_COLUMN else "Int64"
    if annotation is float:
        return "Float64"
    if annotation is Decimal:
        return f"Decimal({DECIMAL_PRECISION}, {meta['scale']})"
    if annotation is datetime:
        return "DateTime64(3, 'UTC')"
    if annotation is date:
        return "Date32"
    raise TypeError(f"no ClickHouse type for field {name}: {annotation!r}")


def column_type(model: type[StdRecord], name: str) -> str:
    info = model.model_fields[name]
    inner, nullable = optional_type(info.annotation)
    if typing.get_origin(inner) is list:
        (item,) = typing.get_args(inner)
        item_type = "LowCardinality(String)" if item is str else _scalar(name, item, {})
        return f"Array({item_type})"
    base = _scalar(name, inner, field_meta(model, name))
    if not nullable:
        return base
    if base.startswith("LowCardinality("):
        return f"LowCardinality(Nullable({base[len('LowCardinality(') : -1]}))"
    return f"Nullable({base})"


def model_columns(model: type[StdRecord]) -> dict[str, str]:
    """Column name → ClickHouse type of every model field, in model order."""
    return {name: column_type(model, name) for name in model.model_fields}


def entity_columns(entity: str) -> dict[str, str]:
    """Every column the lander writes to ``std_<entity>``: model fields then landing columns."""
    return {**model_columns(ENTITY_MODELS[entity]), **LANDING_COLUMNS}


def render_entity_table(entity: str) -> str:
    """CREATE TABLE of one entity: one row per version, collapsed to the latest on merge.

    Sorted by (institution_id, record_id): neither changes between versions of a record,
    so all versions share one sort key and ReplacingMergeTree keeps exactly the highest
    source_position_seq, dropping the record when that version is a delete. A business
    time in the key (or a time partition) would split a record whose time was corrected
    into two keys that never collapse.
    """
    cols = {**entity_columns(entity), LANDED_TIME[0]: LANDED_TIME[1]}
    width = max(len(c) for c in cols)
    lines = [f"    `{name}`{' ' * (width - len(name))} {type_}" for name, type_ in cols.items()]
    body = ",\n".join(
        [
            *lines,
            "    CONSTRAINT record_id_present CHECK record_id != ''",
            "    CONSTRAINT institution_present CHECK institution_id != ''",
        ]
    )
    return (
        f"CREATE TABLE IF NOT EXISTS {table_name(entity)}\n(\n{body}\n)\n"
        f"ENGINE = ReplacingMergeTree({VERSION_COLUMN}, {DELETED_COLUMN})\n"
        f"ORDER BY ({', '.join(ORDER_BY)});\n"
    )
