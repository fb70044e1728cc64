"""``streamhub debezium normalize`` refuses an ambiguous choice of connectors before it starts."""

from __future__ import annotations

from click.testing import CliRunner

from streamhub.cli.main import cli


def test_normalize_needs_connectors_or_all_but_not_both() -> None:
    runner = CliRunner()
    neither = runner.invoke(cli, ["debezium", "normalize"])
    assert neither.exit_code == 2 and "--connector NAME" in neither.output
    both = runner.invoke(cli, ["debezium", "normalize", "--all", "--connector", "x"])
    assert both.exit_code == 2


def test_prefix_and_group_go_with_one_connector() -> None:
    result = CliRunner().invoke(
        cli, ["debezium", "normalize", "--connector", "a", "--connector", "b", "--prefix", "p"]
    )
    assert result.exit_code == 2 and "exactly one --connector" in result.output
