"""``streamhub quality``: data-quality reports (数据质控报告) from what landed."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click
from clickhouse_connect.driver.client import Client
from prometheus_client import REGISTRY, start_http_server

from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.land.clickhouse import connect
from streamhub.quality.notify import from_settings
from streamhub.quality.orders import ORDER_STATES, WorkOrderStore
from streamhub.quality.orders_config import load_order_settings
from streamhub.quality.orders_engine import Evaluation, OrderEngine
from streamhub.quality.orders_metrics import OrderMetrics
from streamhub.quality.orders_run import run_loop
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


# --- work orders (运维工单) ---------------------------------------------------------------


@quality_group.group("orders")
def orders_group() -> None:
    """Work orders: rules breached by an institution, tracked until the data passes."""


def _ch_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option("--database", help="Database (default: settings.clickhouse_database).")(
        command
    )
    return click.option(
        "--dsn", help="chdb:///abs/path or http(s)://host:8123 (default: settings)."
    )(command)


def _config_option(command: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="JSON work order settings (thresholds, SMTP, webhook); default: STREAMHUB_ORDERS_*.",
    )(command)


def _client(ctx: click.Context, dsn: str | None, database: str | None) -> Client:
    settings = settings_from(ctx)
    return connect(dsn or settings.clickhouse_dsn, database or settings.clickhouse_database)


def _engine(client: Client, config_path: Path | None) -> OrderEngine:
    order_settings = load_order_settings(config_path)
    notifier = from_settings(order_settings.smtp, order_settings.webhook)
    return OrderEngine(WorkOrderStore(client), order_settings, notifier)


def _print_evaluation(result: Evaluation) -> None:
    for order in result.opened:
        click.echo(
            f"opened {order.order_id}: {order.institution_id} {order.system}/{order.table} "
            f"{order.rule} {order.breach_count} ({order.breach_rate:.1%}) {order.level}"
        )
    for order in result.closed:
        click.echo(f"closed {order.order_id}: {order.evidence[:200]}")
    for order in result.escalated:
        click.echo(f"escalated {order.order_id}: {order.evidence}")
    click.echo(result.summary())


@orders_group.command("evaluate")
@_config_option
@_ch_options
@click.pass_context
@fails_cleanly
def orders_evaluate_cmd(
    ctx: click.Context, config_path: Path | None, dsn: str | None, database: str | None
) -> None:
    """One evaluation: open orders for breaches, close those the data shows fixed, escalate
    overdue ones, send pending notifications. Exit 1 when a notification failed."""
    client = _client(ctx, dsn, database)
    try:
        result = _engine(client, config_path).evaluate()
    finally:
        client.close()
    _print_evaluation(result)
    if result.notify_failed:
        raise click.ClickException(
            f"{len(result.notify_failed)} notification(s) failed (see the log); the orders are "
            "stored and the next evaluation retries them"
        )


@orders_group.command("run")
@click.option(
    "--every",
    "every_s",
    type=click.FloatRange(min=1.0),
    default=300.0,
    show_default=True,
    help="Seconds between evaluations.",
)
@click.option("--metrics-port", type=int, default=0, help="Serve Prometheus /metrics on this port.")
@_config_option
@_ch_options
@click.pass_context
@fails_cleanly
def orders_run_cmd(
    ctx: click.Context,
    every_s: float,
    metrics_port: int,
    config_path: Path | None,
    dsn: str | None,
    database: str | None,
) -> None:
    """Evaluate every --every seconds until stopped (SIGTERM/Ctrl-C), exporting open and
    overdue orders and the month's score per institution. Exit 1 if any evaluation failed."""
    settings = settings_from(ctx)
    client = _client(ctx, dsn, database)
    engine = _engine(client, config_path)
    metrics = OrderMetrics.create(REGISTRY)
    if metrics_port:
        start_http_server(metrics_port, addr=settings.metrics_host)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo(
        f"evaluating work orders every {every_s:g}s"
        + (f", metrics on {settings.metrics_host}:{metrics_port}" if metrics_port else "")
    )
    try:
        failures = run_loop(engine, metrics, every_s, stop, _print_evaluation)
    finally:
        client.close()
    if failures:
        raise click.ClickException(f"{failures} evaluation(s) failed (see the log)")


@orders_group.command("list")
@click.option("--institution", default=None, help="Only this institution's orders.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(ORDER_STATES),
    help="Only orders in this state (repeatable).",
)
@_ch_options
@click.pass_context
@fails_cleanly
def orders_list_cmd(
    ctx: click.Context,
    institution: str | None,
    states: tuple[str, ...],
    dsn: str | None,
    database: str | None,
) -> None:
    """The work orders, newest first."""
    client = _client(ctx, dsn, database)
    try:
        orders = WorkOrderStore(client).list(institution_id=institution, states=states or None)
    finally:
        client.close()
    for o in orders:
        click.echo(
            f"{o.order_id}  {o.state:<12} {o.level:<8} {o.institution_id}  {o.system}/{o.table}  "
            f"{o.rule}  {o.breach_count} ({o.breach_rate:.1%})  deadline {_iso(o.deadline_ms)}"
        )
    click.echo(f"{len(orders)} work order(s)")


@orders_group.command("show")
@click.argument("order_id")
@_ch_options
@click.pass_context
@fails_cleanly
def orders_show_cmd(
    ctx: click.Context, order_id: str, dsn: str | None, database: str | None
) -> None:
    """One work order, its examples (pseudonymized record ids), evidence and audit trail."""
    client = _client(ctx, dsn, database)
    try:
        store = WorkOrderStore(client)
        order = store.get(order_id)
        trail = store.audit(order_id)
    finally:
        client.close()
    for name, value in (
        ("order", order.order_id),
        ("institution", order.institution_id),
        ("scope", f"{order.system}/{order.table}"),
        ("rule", f"{order.rule} ({order.level})"),
        ("state", order.state),
        ("failing", f"{order.breach_count} ({order.breach_rate:.1%})"),
        ("opened", _iso(order.opened_at_ms)),
        ("deadline", _iso(order.deadline_ms)),
        ("examples", ", ".join(order.examples)),
        ("evidence", order.evidence or "-"),
    ):
        click.echo(f"{name:<12} {value}")
    click.echo("audit:")
    for entry in trail:
        click.echo(
            f"  {_iso(entry.at_ms)}  {entry.actor}  {entry.action}  "
            f"{entry.from_state or '-'} -> {entry.to_state}  {entry.note}"
        )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")
