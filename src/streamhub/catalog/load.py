"""Load the catalog and its Avro schemas from the checkout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from streamhub.catalog.errors import CatalogError
from streamhub.catalog.model import TopicSpec
from streamhub.serde.avro_serde import parse
from streamhub.serde.errors import InvalidSchemaError


def load_catalog(topics_dir: Path) -> list[TopicSpec]:
    """Every topic in ``topics_dir/*.yaml``, names unique, in file then list order."""
    files = sorted(topics_dir.glob("*.yaml"))
    if not files:
        raise CatalogError(f"no topic catalog files (*.yaml) in {topics_dir}")
    specs: list[TopicSpec] = []
    seen: dict[str, Path] = {}
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries = document.get("topics")
        if not isinstance(entries, list):
            raise CatalogError(f"{path}: expected a top-level 'topics:' list")
        for index, entry in enumerate(entries):
            try:
                spec = TopicSpec.model_validate(entry)
            except ValidationError as exc:
                raise CatalogError(f"{path}: topic #{index + 1}: {exc}") from exc
            if spec.name in seen:
                raise CatalogError(
                    f"{path}: topic {spec.name} is also defined in {seen[spec.name]}"
                )
            seen[spec.name] = path
            specs.append(spec)
    return specs


def load_schema(schemas_dir: Path, relative: str) -> dict[str, Any]:
    """The schema document at ``avro_schemas/<relative>``, checked to parse as Avro."""
    path = schemas_dir / relative
    if not path.is_file():
        raise CatalogError(f"schema file {path} does not exist")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        parse(document)
    except (ValueError, InvalidSchemaError) as exc:
        raise CatalogError(f"{path}: not a valid Avro schema: {exc}") from exc
    if not isinstance(document, dict):
        raise CatalogError(f"{path}: a topic's value schema must be a named record")
    return document
