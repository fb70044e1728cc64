"""The Helm chart's values.schema.json, joined from the config models of the processes.

``settings`` is :class:`~streamhub.config.Settings` (each key becomes ``STREAMHUB_<KEY>`` in
every process) without its secrets and the paths the chart sets itself: a secret in values
is refused by the schema, secrets come only from Kubernetes Secrets. A capture group's
connectors are :class:`ConnectorConfig`; the lander's, the reconciler's and the anomaly
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
from streamhub.config import SECRET_FIELDS, Settings
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

#: Settings the chart sets itself (paths inside the pod, the bind address, the local
#: broker's heap) or that are secrets (each also as ``<name>_file``): not values.
CHART_OWNED_SETTINGS = frozenset(
    {
        "data_dir",
        "project_dir",
        "connectors_dir",
        "metrics_host",
        "kafka_heap_mb",
        "web_users_file",
        *SECRET_FIELDS,
        *(f"{name}_file" for name in SECRET_FIELDS),
    }
)

#: Kubernetes Secret keys, named as the settings they fill (mounted as files under
#: ``<data_dir>/secrets/``, where every process looks for them).
SECRET_KEYS = ("pseudonym_keys", *SECRET_FIELDS)

#: The fields of a ``config`` block the chart passes to its command as options (the others
#: come from ``settings`` or have no option yet): the block's definition keeps only these and
#: requires none. tests/unit/helm/ checks each option exists and reaches the container.
CHART_OPTIONS: dict[str, dict[str, str]] = {
    "LanderConfig": {
        "flush_rows": "--flush-rows",
        "flush_ms": "--flush-ms",
        "ops_flush_ms": "--ops-flush-ms",
        "landed_counts_topic": "--landed-counts-topic",
        "dlq_topic": "--dlq-topic",
        "progress_every_s": "--progress-every",
    },
    "ReconcileSettings": {"grace_ms": "--grace", "retention_ms": "--retention"},
}

_DNS_LABEL = "^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$"
_OBJECT: dict[str, Any] = {"type": "object"}


def _with_definitions(model: type[BaseModel], definitions: dict[str, Any]) -> str:
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    definitions.update(schema.pop("$defs", {}))
    options = CHART_OPTIONS.get(model.__name__)
    if options is not None:
        schema["properties"] = {k: v for k, v in schema["properties"].items() if k in options}
        schema.pop("required", None)
        schema["additionalProperties"] = False
    definitions[model.__name__] = schema
    return f"#/$defs/{model.__name__}"


def _settings_schema() -> dict[str, Any]:
    schema = Settings.model_json_schema(ref_template="#/$defs/{model}")
    properties = {
        name: spec
        for name, spec in schema["properties"].items()
        if name not in CHART_OWNED_SETTINGS
    }
    return {
        "type": "object",
        "description": "Settings of every process, as STREAMHUB_<KEY> (streamhub.config); "
        "no secrets: those come from secrets.existingSecret.",
        "properties": properties,
        "additionalProperties": False,
    }


def _strict(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        block["required"] = list(required)
    return block


def _workload(*, max_replicas: int | None = None, **extra: Any) -> dict[str, Any]:
    """A process's Deployment: whether it runs, how many, its resources and disruption budget."""
    replicas: dict[str, Any] = {"type": "integer", "minimum": 1}
    if max_replicas is not None:
        replicas["maximum"] = max_replicas
    return _strict(
        {
            "enabled": {"type": "boolean"},
            "replicas": replicas,
            "resources": _resources(),
            "podDisruptionBudget": _strict({"maxUnavailable": {"type": ["integer", "string"]}}),
            "extraArgs": {"type": "array", "items": {"type": "string"}},
            "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
            "tolerations": {"type": "array", "items": _OBJECT},
            **extra,
        }
    )


def _resources() -> dict[str, Any]:
    quantity = {"type": ["string", "number"]}
    amounts = _strict({"cpu": quantity, "memory": quantity, "ephemeral-storage": quantity})
    return _strict({"requests": amounts, "limits": amounts})


def _secret_ref() -> dict[str, Any]:
    return _strict({"name": {"type": "string", "minLength": 1}, "key": {"type": "string"}})


def values_schema() -> dict[str, Any]:
    definitions: dict[str, Any] = {}
    connector = _with_definitions(ConnectorConfig, definitions)
    port = {"type": "integer", "minimum": 1, "maximum": 65535}
    group = _strict(
        {
            "name": {"type": "string", "pattern": _DNS_LABEL},
            "replicas": {"type": "integer", "minimum": 1},
            "existingSecret": {"type": "string"},
            "connectors": {"type": "array", "minItems": 1, "items": {"$ref": connector}},
        },
        required=("name", "connectors"),
    )
    properties: dict[str, Any] = {
        "image": _strict(
            {
                "repository": {"type": "string"},
                "tag": {"type": "string"},
                "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
                "pullSecrets": {"type": "array", "items": {"type": "string"}},
                "projectDir": {"type": "string"},
            }
        ),
        "settings": _settings_schema(),
        "secrets": _strict(
            {
                "existingSecret": {"type": "string", "minLength": 1},
                "pseudonymRing": {"type": "boolean"},
                "clickhouseDsn": {"type": "boolean"},
            },
            required=("existingSecret",),
        ),
        "ports": _strict({"metrics": port, "probe": port}),
        "serviceMonitor": _strict(
            {
                "enabled": {"type": "boolean"},
                "interval": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            }
        ),
        "prometheusRule": _strict(
            {
                "enabled": {"type": "boolean"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            }
        ),
        "registry": _workload(max_replicas=1, port=port),
        "capture": _workload(
            existingSecret={"type": "string"},
            groups={"type": "array", "items": group},
        ),
        "standardize": _workload(
            batchSize={"type": "integer", "minimum": 1},
            withinMs={"type": "integer", "minimum": 1},
        ),
        # sessions live in the web process (web/auth.py SessionStore): one replica
        "web": _workload(max_replicas=1, port=port, users=_secret_ref()),
    }
    singletons = {"reconcile", "anomaly", "health"}
    for component, key, model in _BLOCKS:
        ref = _with_definitions(model, definitions)
        block = _workload(max_replicas=1 if component in singletons else None)
        block["properties"][key] = {"$ref": ref}
        if component == "health":
            block["properties"]["interval"] = {"type": "number", "minimum": 1}
        properties[component] = block
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "streamhub chart values",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "$defs": definitions,
    }


def render() -> str:
    return json.dumps(values_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
