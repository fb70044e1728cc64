import json
from pathlib import Path

from click.testing import CliRunner

from streamhub.cli.chart_schema import render
from streamhub.cli.main import cli


def test_the_charts_values_schema_is_the_config_models(project_dir: Path) -> None:
    committed = (project_dir / "helm" / "streamhub" / "values.schema.json").read_text()
    assert committed == render(), (
        "helm/streamhub/values.schema.json is stale: regenerate it with "
        "`streamhub schemas chart --write`"
    )
    schema = json.loads(committed)
    connector = schema["$defs"]["ConnectorConfig"]
    assert {"institution_id", "system", "engine", "connection", "tables"} <= set(
        connector["required"]
    )
    blocks = {name: schema["properties"][name]["properties"] for name in schema["properties"]}
    assert blocks["land"]["config"] == {"$ref": "#/$defs/LanderConfig"}
    assert blocks["anomaly"]["config"] == {"$ref": "#/$defs/DetectorConfig"}
    assert blocks["reconcile"]["config"] == {"$ref": "#/$defs/ReconcileSettings"}
    assert blocks["health"]["thresholds"] == {"$ref": "#/$defs/Thresholds"}
    # nested models (the detector's baseline and judge) are defined, not dangling
    refs = {part.split('"')[0] for part in json.dumps(schema).split('"#/$defs/')[1:]}
    assert refs <= set(schema["$defs"])


def test_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    (tmp_path / "helm" / "streamhub").mkdir(parents=True)
    (tmp_path / "helm" / "streamhub" / "values.schema.json").write_text("{}\n")
    env = {"STREAMHUB_PROJECT_DIR": str(tmp_path), "STREAMHUB_DATA_DIR": str(tmp_path / "d")}
    stale = CliRunner().invoke(cli, ["schemas", "chart", "--check"], env=env)
    assert stale.exit_code == 1
    assert "streamhub schemas chart --write" in stale.output
    written = CliRunner().invoke(cli, ["schemas", "chart", "--write"], env=env)
    assert written.exit_code == 0
    assert CliRunner().invoke(cli, ["schemas", "chart", "--check"], env=env).exit_code == 0
