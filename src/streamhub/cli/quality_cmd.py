"""``streamhub quality``: data-quality reports (数据质控报告) from what landed."""

from __future__ import annotations

from pathlib import Path

import click

from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.land.clickhouse import connect
from streamhub.quality.period import parse_period
from streamhub.quality.render import as_html, as_text, write_xlsx
from streamhub.quality.scores import build_report


@click.group("quality")
def quality_group() -> None:
    """Quality scores per institution, system, table and rule; reports and exports."""


@quality_group.command("report")
@click.option(
    "--period",
    required=True,
    help="A day (2026-11-05), ISO week (2026-W45) or month (2026-11), Shanghai time.",
)
@click.option("--institution", default="", help="One institution id (default: all).")
@click.option("--rule", default="", help="One rule id: the rule table and records of it only.")
@click.option(
    "--trend",
    "trend_periods",
    default=3,
    show_default=True,
    type=click.IntRange(1, 36),
    help="Periods in the trend, this one included.",
)
@click.option(
    "--limit",
    default=200,
    show_default=True,
    type=click.IntRange(0, 100_000),
    help="Abnormal records listed at most.",
)
@click.option(
    "--show-source-keys",
    is_flag=True,
    help="OPERATORS ONLY: list each abnormal record's source key token (security level 3) "
    "beside its pseudonymized record id. Never hand such a report to an institution.",
)
@click.option(
    "--xlsx",
    "xlsx_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report as an xlsx workbook.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a printable HTML report.",
)
@click.option("--dsn", help="chdb:///abs/path or http(s)://host:8123 (default: settings).")
@click.option("--database", help="Database (default: settings.clickhouse_database).")
@click.pass_context
@fails_cleanly
def report_cmd(
    ctx: click.Context,
    period: str,
    institution: str,
    rule: str,
    trend_periods: int,
    limit: int,
    show_source_keys: bool,
    xlsx_path: Path | None,
    html_path: Path | None,
    dsn: str | None,
    database: str | None,
) -> None:
    """Print the overall evaluation, trend, per-rule table and abnormal records of a period.

    Scores count the latest version of every record: a record corrected at the source counts
    by its corrected version, a deleted one not at all (docs/decisions/quality.md).
    """
    which = parse_period(period)
    settings = settings_from(ctx)
    client = connect(
        dsn or settings.clickhouse_dsn, database or settings.clickhouse_database, readonly=True
    )
    try:
        report = build_report(
            client,
            which,
            institution=institution,
            rule=rule,
            trend_periods=trend_periods,
            problem_limit=limit,
        )
    finally:
        client.close()
    click.echo(as_text(report, show_source_keys=show_source_keys), nl=False)
    if xlsx_path is not None:
        write_xlsx(report, xlsx_path, show_source_keys=show_source_keys)
        click.echo(f"wrote {xlsx_path}")
    if html_path is not None:
        html_path.write_text(as_html(report, show_source_keys=show_source_keys), encoding="utf-8")
        click.echo(f"wrote {html_path}")
