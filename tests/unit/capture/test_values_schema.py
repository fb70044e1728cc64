import json
from pathlib import Path

from streamhub.capture.values_schema import render


def test_the_charts_values_schema_is_the_connector_models(project_dir: Path) -> None:
    committed = (project_dir / "helm" / "streamhub" / "values.schema.json").read_text()
    assert committed == render(), (
        "helm/streamhub/values.schema.json is stale: regenerate it with "
        "`python -m streamhub.capture.values_schema > helm/streamhub/values.schema.json`"
    )
    schema = json.loads(committed)
    connector = schema["$defs"]["ConnectorConfig"]
    assert {"institution_id", "system", "engine", "connection", "tables"} <= set(
        connector["required"]
    )
