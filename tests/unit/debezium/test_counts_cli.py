"""``streamhub debezium counts`` refuses an ambiguous choice and files that are not Debezium's."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from streamhub.cli.main import cli


def test_counts_needs_connectors_or_all_but_not_both() -> None:
    runner = CliRunner()
    neither = runner.invoke(cli, ["debezium", "counts"])
    assert neither.exit_code == 2 and "--connector NAME" in neither.output
    both = runner.invoke(cli, ["debezium", "counts", "--all", "--connector", "x"])
    assert both.exit_code == 2


def test_counts_of_agent_captured_files_are_refused(tmp_path: Path) -> None:
    document = {
        "name": "xm-his",
        "institution_id": "12350200154989800X",
        "system": "his",
        "engine": "postgresql",
        "connection": {"port": 5432, "database": "his", "user": "u", "password_env": "PW"},
        "tables": ["public.patient"],
        "profile": "p",
    }
    (tmp_path / "xm-his.yaml").write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(
        cli, ["debezium", "counts", "--all"], env={"STREAMHUB_CONNECTORS_DIR": str(tmp_path)}
    )
    assert result.exit_code == 1 and "has capture_engine: debezium" in result.output, result.output
