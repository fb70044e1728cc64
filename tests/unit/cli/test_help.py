"""Every command explains itself, even when the configuration is broken."""

import pytest
from click.testing import CliRunner

from streamhub.cli.main import cli

COMMANDS = [
    [],
    ["stack"],
    ["stack", "up"],
    ["stack", "down"],
    ["stack", "status"],
    ["topics"],
    ["topics", "apply"],
    ["topics", "list"],
    ["registry"],
    ["registry", "serve"],
    ["config"],
    ["config", "show"],
    ["schemas"],
    ["schemas", "std"],
    ["standardize"],
    ["land"],
    ["clickhouse"],
    ["clickhouse", "migrate"],
    ["clickhouse", "query"],
    ["demo"],
    ["capture", "resnapshot"],
    ["reconcile"],
    ["reconcile", "run"],
    ["reconcile", "show"],
    ["reconcile", "diff"],
    ["anomaly"],
    ["anomaly", "run"],
    ["anomaly", "ack"],
    ["anomaly", "maintenance"],
    ["anomaly", "cancel-maintenance"],
    ["anomaly", "show"],
    ["health"],
    ["serve"],
    ["users"],
    ["users", "add"],
    ["users", "list"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "streamhub")
def test_help(command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMHUB_KAFKA_BOOTSTRAP", "broken")
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    docline = result.output.split("\n\n")[1].strip()
    assert len(docline) > 15, f"`{' '.join(command)} --help` has no description"


def test_invalid_setting_fails_start_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMHUB_POSTGRES_PORT", "not-a-port")
    result = CliRunner().invoke(cli, ["config", "show"])
    assert result.exit_code == 2
    assert "STREAMHUB_POSTGRES_PORT (postgres_port)" in result.output
    assert "Traceback" not in result.output
