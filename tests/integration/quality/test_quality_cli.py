"""``streamhub quality report`` on the fixed dataset: printed sections and both exports."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from clickhouse_connect.driver.client import Client
from openpyxl import load_workbook

from streamhub.cli.main import cli
from tests.integration.quality import dataset


def test_report_prints_and_exports(ch: Client, chdb_path: Path, tmp_path: Path) -> None:
    dataset.insert(ch)
    xlsx, page = tmp_path / "r.xlsx", tmp_path / "r.html"
    args = ["quality", "report", "--period", "2026-11", "--institution", "I1"]
    args += ["--dsn", f"chdb://{chdb_path}", "--database", ch.database or ""]
    result = CliRunner().invoke(cli, [*args, "--xlsx", str(xlsx), "--html", str(page)])
    assert result.exit_code == 0, result.output
    for heading in ("总体评价", "趋势", "规则明细", "问题记录", "encounter_exists"):
        assert heading in result.output
    assert "key-e4" not in result.output  # source keys are for operators only
    book = load_workbook(xlsx)
    assert book["总体评价"].cell(row=book["总体评价"].max_row, column=4).value == 17
    assert "问题记录" in page.read_text(encoding="utf-8")
    operator = CliRunner().invoke(cli, [*args, "--show-source-keys"])
    assert operator.exit_code == 0 and "key-e4" in operator.output
    bad = CliRunner().invoke(cli, [*args[:2], "--period", "2026/11"])
    assert bad.exit_code == 2 and "give a day" in bad.output
