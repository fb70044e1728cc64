"""数据目录 API: what a developer needs to subscribe — topics, schemas, fields, owners.

Read from the checkout's topic catalog (``topics/*.yaml``) and Avro schemas, the same
files ``streamhub topics apply`` creates the topics from.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from streamhub.catalog.errors import CatalogError
from streamhub.catalog.load import load_catalog, load_schema
from streamhub.catalog.model import TopicSpec
from streamhub.web.context import WebContext, context, require, viewed
from streamhub.web.errors import NotFoundError, ServiceUnavailableError

_GROUPS = (("cdc.raw.", "raw"), ("std.", "std"), ("ops.", "ops"), ("dlq.", "dlq"))
FIELD_EXTRAS = ("level", "category", "de")  # per-field security level, category, 数据元 id

router = APIRouter(prefix="/api/catalog", dependencies=[Depends(require("catalog"))])


def group_of(name: str) -> str:
    return next((group for prefix, group in _GROUPS if name.startswith(prefix)), "other")


def type_text(avro: Any) -> str:
    """An Avro type as one readable line: ``null|string``, ``long(timestamp-millis)`` …"""
    if isinstance(avro, list):
        return "|".join(type_text(t) for t in avro)
    if isinstance(avro, str):
        return avro
    if not isinstance(avro, dict):
        return str(avro)
    kind = str(avro.get("type"))
    if "logicalType" in avro:
        extra = f", {avro['precision']}, {avro.get('scale', 0)}" if "precision" in avro else ""
        return f"{kind}({avro['logicalType']}{extra})"
    if kind == "array":
        return f"array<{type_text(avro.get('items'))}>"
    if kind == "map":
        return f"map<{type_text(avro.get('values'))}>"
    if kind == "enum":
        return f"enum({','.join(avro.get('symbols', []))})"
    if kind in ("record", "fixed"):
        return f"{kind} {avro.get('name', '')}".strip()
    return kind


def _topic(spec: TopicSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "group": group_of(spec.name),
        "partitions": spec.partitions,
        "retention_ms": spec.retention_ms,
        "cleanup_policy": spec.cleanup_policy,
        "key": spec.key,
        "value_schema": spec.value_schema,
        "security_level": spec.security_level,
        "security_category": spec.security_category,
        "owner": spec.owner,
        "description": spec.description,
    }


def _catalog(ctx: WebContext) -> list[TopicSpec]:
    try:
        return load_catalog(ctx.settings.project_dir / "topics")
    except CatalogError as exc:
        raise ServiceUnavailableError(f"the topic catalog cannot be read: {exc}") from exc


@router.get("/topics")
def topics(request: Request) -> dict[str, Any]:
    viewed(request, "catalog topics")
    return {"topics": [_topic(spec) for spec in _catalog(context(request))]}


@router.get("/topics/{name}")
def topic(request: Request, name: str) -> dict[str, Any]:
    ctx = context(request)
    viewed(request, f"catalog topic {name}")
    spec = next((s for s in _catalog(ctx) if s.name == name), None)
    if spec is None:
        raise NotFoundError(f"no topic {name!r} in the catalog; list them with /api/catalog/topics")
    if spec.value_schema is None:  # JSON written by Kafka Connect: no Avro schema to show
        return {**_topic(spec), "schema_name": None, "fields": []}
    try:
        schema = load_schema(ctx.settings.project_dir / "avro_schemas", spec.value_schema)
    except CatalogError as exc:
        raise ServiceUnavailableError(f"the schema of {name} cannot be read: {exc}") from exc
    fields = []
    for f in schema.get("fields", []):
        entry = {"name": f["name"], "type": type_text(f["type"]), "doc": f.get("doc")}
        if "default" in f:
            entry["default"] = f["default"]
        entry.update({k: f[k] for k in FIELD_EXTRAS if f.get(k) is not None})
        fields.append(entry)
    return {**_topic(spec), "schema_name": schema.get("name"), "fields": fields}
