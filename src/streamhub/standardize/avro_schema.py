"""Avro schemas of the std.* topics, derived from the canonical pydantic models.

The committed ``avro_schemas/std/<entity>.avsc`` files are what developers read;
they are written from the models by ``streamhub schemas std --write`` and a test
fails when the two drift apart. Each field keeps its data element, category and
level as extra attributes (Avro readers ignore unknown attributes).
"""

from __future__ import annotations

import json
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from streamhub.standardize.model import ENTITY_MODELS, StdRecord, field_meta

NAMESPACE = "streamhub.std"
DECIMAL_PRECISION = 18


def _base_type(annotation: Any, meta: dict[str, Any]) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "string"
    if origin is list:
        (item,) = typing.get_args(annotation)
        return {"type": "array", "items": _base_type(item, meta)}
    if annotation is str:
        return "string"
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "long"
    if annotation is float:
        return "double"
    if annotation is Decimal:
        scale = meta.get("scale")
        if scale is None:
            raise TypeError("a Decimal field needs a scale in its element() metadata")
        return {
            "type": "bytes",
            "logicalType": "decimal",
            "precision": DECIMAL_PRECISION,
            "scale": scale,
        }
    if annotation is datetime:
        return {"type": "long", "logicalType": "timestamp-millis"}
    if annotation is date:
        return {"type": "int", "logicalType": "date"}
    raise TypeError(f"no Avro type for {annotation!r}")


def optional_type(annotation: Any) -> tuple[Any, bool]:
    """(inner type, nullable) of ``X | None``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def std_schema(model: type[StdRecord]) -> dict[str, Any]:
    fields: list[dict[str, Any]] = []
    for name, info in model.model_fields.items():
        meta = field_meta(model, name)
        inner, nullable = optional_type(info.annotation)
        avro_type = _base_type(inner, meta)
        field: dict[str, Any] = {"name": name}
        if nullable:
            field["type"] = ["null", avro_type]
            field["default"] = None
        elif typing.get_origin(inner) is list:
            field["type"] = avro_type
            field["default"] = []
        elif inner is bool and info.default is False:
            field["type"] = avro_type
            field["default"] = False
        else:
            field["type"] = avro_type
        field["doc"] = info.description or ""
        field["de"] = meta.get("de")
        field["category"] = meta["category"]
        field["level"] = meta["level"]
        fields.append(field)
    return {
        "type": "record",
        "name": "".join(part.capitalize() for part in model.entity.split("_")),
        "namespace": NAMESPACE,
        "doc": (model.__doc__ or f"Standard {model.entity} record").strip().splitlines()[0],
        "fields": fields,
    }


def std_schemas() -> dict[str, dict[str, Any]]:
    return {entity: std_schema(model) for entity, model in ENTITY_MODELS.items()}


def schema_path(project_dir: Path, entity: str) -> Path:
    return project_dir / "avro_schemas" / "std" / f"{entity}.avsc"


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_std_schemas(project_dir: Path) -> list[Path]:
    written = []
    for entity, schema in std_schemas().items():
        path = schema_path(project_dir, entity)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def stale_std_schemas(project_dir: Path) -> list[Path]:
    """Committed .avsc files that differ from (or are missing for) the models."""
    return [
        schema_path(project_dir, entity)
        for entity, schema in std_schemas().items()
        if not schema_path(project_dir, entity).is_file()
        or schema_path(project_dir, entity).read_text(encoding="utf-8") != render(schema)
    ]
