"""The Helm chart's values.schema.json, joined from the config models of the processes.

A connector item is :class:`ConnectorConfig`; the lander's, the reconciler's and the anomaly
detector's ``config`` blocks and health's ``thresholds`` are their pydantic models, so the
chart, ``streamhub capture schema`` and the processes validate one definition.
``streamhub schemas chart --write`` rewrites the file; ``--check`` (and a unit test) fail
when it and the models drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from streamhub.anomaly.detector import DetectorConfig
from streamhub.capture.connector import ConnectorConfig
from streamhub.health.thresholds import Thresholds
from streamhub.land.config import LanderConfig
from streamhub.reconcile.reconciler import ReconcileSettings

CHART_SCHEMA = Path("helm") / "streamhub" / "values.schema.json"

# the block of values.yaml each model types: (component, key, model)
_BLOCKS: tuple[tuple[str, str, type[BaseModel]], ...] = (
    ("land", "config", LanderConfig),
    ("reconcile", "config", ReconcileSettings),
    ("anomaly", "config", DetectorConfig),
    ("health", "thresholds", Thresholds),
)


def _with_definitions(model: type[BaseModel], definitions: dict[str, Any]) -> str:
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    definitions.update(schema.pop("$defs", {}))
    definitions[model.__name__] = schema
    return f"#/$defs/{model.__name__}"


def values_schema() -> dict[str, Any]:
    definitions: dict[str, Any] = {}
    connector = _with_definitions(ConnectorConfig, definitions)
    properties: dict[str, Any] = {
        "capture": {
            "type": "object",
            "properties": {
                "enabled": {"type": "boolean"},
                "replicas": {"type": "integer", "minimum": 0},
                "group": {"type": "string"},
                "positionsTopic": {"type": "string"},
                "metricsPort": {"type": "integer"},
                "connectors": {"type": "array", "items": {"$ref": connector}},
                "resources": {"type": "object"},
            },
        },
    }
    for component, key, model in _BLOCKS:
        ref = _with_definitions(model, definitions)
        properties[component] = {
            "type": "object",
            "properties": {key: {"$ref": ref}},
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "streamhub chart values",
        "type": "object",
        "properties": properties,
        "$defs": definitions,
    }


def render() -> str:
    return json.dumps(values_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
