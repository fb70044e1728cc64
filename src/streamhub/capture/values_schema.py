"""The Helm chart's values.schema.json: its connector items are the connector model's schema.

`python -m streamhub.capture.values_schema > helm/streamhub/values.schema.json` rewrites it;
a test fails when the file and the model drift apart.
"""

from __future__ import annotations

import json
from typing import Any

from streamhub.capture.connector import ConnectorConfig


def values_schema() -> dict[str, Any]:
    connector = ConnectorConfig.model_json_schema(ref_template="#/$defs/{model}")
    definitions = connector.pop("$defs", {})
    definitions["ConnectorConfig"] = connector
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "streamhub chart values",
        "type": "object",
        "properties": {
            "capture": {
                "type": "object",
                "properties": {
                    "enabled": {"type": "boolean"},
                    "replicas": {"type": "integer", "minimum": 0},
                    "group": {"type": "string"},
                    "positionsTopic": {"type": "string"},
                    "metricsPort": {"type": "integer"},
                    "connectors": {
                        "type": "array",
                        "items": {"$ref": "#/$defs/ConnectorConfig"},
                    },
                    "resources": {"type": "object"},
                },
            },
        },
        "$defs": definitions,
    }


def render() -> str:
    return json.dumps(values_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
