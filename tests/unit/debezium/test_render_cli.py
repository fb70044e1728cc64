"""`streamhub connectors render` and how the agent's commands treat Debezium connector files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamhub.cli.main import cli

EXAMPLES = str(Path(__file__).resolve().parents[3] / "connectors" / "examples")


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_render_prints_the_connect_config_with_the_password_as_a_reference(
    tmp_path: Path,
) -> None:
    password = "Zk4-in-the-environment-only"  # the example's password_env
    env = {"STREAMHUB_DATA_DIR": str(tmp_path), "ORACLE_HIS_PASSWORD": password}
    code, out, err = _run(
        "connectors", "render", "oracle-his", "--connectors-dir", EXAMPLES, env=env
    )
    assert code == 0, err
    document = json.loads(out)
    assert document["name"] == "oracle-his"
    assert document["config"]["connector.class"] == "io.debezium.connector.oracle.OracleConnector"
    assert document["config"]["database.password"].startswith("${file:")
    assert password not in out


def test_render_all_prints_each_debezium_file(tmp_path: Path) -> None:
    env = {"STREAMHUB_DATA_DIR": str(tmp_path)}
    code, out, err = _run("connectors", "render", "--all", "--connectors-dir", EXAMPLES, env=env)
    assert code == 0, err
    assert [d["name"] for d in json.loads(out)] == ["oracle-his", "sqlserver-lis"]


@pytest.mark.parametrize("args", [(), ("oracle-his", "--all")])
def test_render_takes_names_or_all(args: tuple[str, ...]) -> None:
    code, _, err = _run("connectors", "render", *args, "--connectors-dir", EXAMPLES)
    assert code == 2 and "--all" in err


def test_the_agent_is_not_handed_a_debezium_connector() -> None:
    code, _, err = _run("capture", "--connector", "oracle-his", "--connectors-dir", EXAMPLES)
    assert code == 2
    assert "connectors apply" in err


def test_preflight_checks_leave_debezium_files_to_their_plugin() -> None:
    code, out, err = _run("connectors", "check", "--connectors-dir", EXAMPLES)
    assert code == 0, err
    assert out.splitlines() == [
        "oracle-his: Debezium (checked by `streamhub connectors apply`)",
        "sqlserver-lis: Debezium (checked by `streamhub connectors apply`)",
    ]
