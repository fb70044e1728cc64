"""``streamhub land``: the ClickHouse lander (std.* and ops topics → ClickHouse)."""

from __future__ import annotations

import signal
from types import FrameType

import click
from prometheus_client import start_http_server

from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.config import Settings
from streamhub.kafka import probes
from streamhub.land.config import LanderConfig
from streamhub.land.lander import Lander
from streamhub.land.targets import DEFAULT_ROUTES, parse_route
from streamhub.query.service import QueryService, open_readers
from streamhub.query.token import checked_token
from streamhub.stack.secrets import stack_secret


def _help(field: str) -> str:
    return LanderConfig.model_fields[field].description or ""


@click.command("land")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    metavar="TOPIC[=TARGET]",
    help="Topic to land (repeatable); TARGET is an entity (encounter…) or an ops "
    "table (ops_quality…). Default: every std.* and ops/dlq topic it knows.",
)
@click.option("--group", help="Kafka consumer group (default: settings.lander_group).")
@click.option("--dsn", help="chdb:///abs/path or http(s)://host:8123 (default: settings).")
@click.option("--database", help="Database (default: settings.clickhouse_database).")
@click.option(
    "--until-idle",
    type=float,
    metavar="SECONDS",
    help="Stop after no new message for SECONDS (tests, backfills).",
)
@click.option(
    "--flush-rows",
    type=int,
    default=LanderConfig.default("flush_rows"),
    show_default=True,
    help=_help("flush_rows"),
)
@click.option(
    "--flush-ms",
    type=int,
    default=LanderConfig.default("flush_ms"),
    show_default=True,
    help=_help("flush_ms"),
)
@click.option(
    "--ops-flush-ms",
    type=int,
    default=LanderConfig.default("ops_flush_ms"),
    show_default=True,
    help=_help("ops_flush_ms"),
)
@click.option(
    "--landed-counts-topic",
    default=LanderConfig.default("landed_counts_topic"),
    show_default=True,
    help=_help("landed_counts_topic"),
)
@click.option(
    "--dlq-topic",
    default=LanderConfig.default("dlq_topic"),
    show_default=True,
    help=_help("dlq_topic"),
)
@click.option(
    "--metrics-port",
    type=int,
    default=0,
    show_default=True,
    help="Serve Prometheus /metrics on this port (0: off).",
)
@click.option(
    "--progress-every",
    type=float,
    default=LanderConfig.default("progress_every_s"),
    show_default=True,
    help=_help("progress_every_s"),
)
@click.option(
    "--query-port",
    type=int,
    default=0,
    show_default=True,
    help="Serve read-only queries on 127.0.0.1:PORT (0: off) for processes that "
    "cannot open the embedded engine themselves (`streamhub serve`).",
)
@click.pass_context
@fails_cleanly
def land_cmd(
    ctx: click.Context,
    topics: tuple[str, ...],
    group: str | None,
    dsn: str | None,
    database: str | None,
    until_idle: float | None,
    flush_rows: int,
    flush_ms: int,
    ops_flush_ms: int,
    landed_counts_topic: str,
    dlq_topic: str,
    metrics_port: int,
    progress_every: float,
    query_port: int,
) -> None:
    """Land std.* and ops topics into ClickHouse: batched inserts, commit after insert.

    Run `streamhub clickhouse migrate` first. Rows are buffered per table and inserted when
    --flush-rows or --flush-ms is reached (the ops.* tables, where a second or two does not
    matter, at --ops-flush-ms: a std.* flush inserts the std tables only); offsets are
    committed only after the insert and the batch's ops.landed_counts and dead letters are
    acknowledged, so a crash re-lands (idempotently) rather than loses. Undecodable messages
    and rows ClickHouse refuses go to --dlq-topic with the reason. SIGTERM/SIGINT flush,
    commit and stop. With chDB this process owns the engine directory: nothing else may open
    it while it runs, so --query-port lets others run the named queries of
    streamhub.query.catalog through it (never SQL; bearer token: the query_token secret, at
    least 32 characters).
    """
    settings = settings_from(ctx)
    try:
        routes = dict(parse_route(t) for t in topics) if topics else dict(DEFAULT_ROUTES)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--topic") from exc
    overrides = {"dsn": dsn} if dsn else {}
    if group:
        overrides["group"] = group
    config = LanderConfig.from_settings(
        settings,
        database or settings.clickhouse_database,
        routes=routes,
        until_idle_s=until_idle,
        flush_rows=flush_rows,
        flush_ms=flush_ms,
        ops_flush_ms=ops_flush_ms,
        landed_counts_topic=landed_counts_topic,
        dlq_topic=dlq_topic,
        progress_every_s=progress_every,
        **overrides,
    )
    token = ""
    if query_port:  # refused before anything starts: an empty token would let anyone in
        token = checked_token(stack_secret(settings, "query_token"), _token_source(settings))
    lander = Lander(config)
    if metrics_port:
        start_http_server(metrics_port, addr=settings.metrics_host)
    probes.start_from_env(settings, loops=("land",), clickhouse_dsn=config.dsn)
    service = None
    if query_port:
        service = QueryService(open_readers(config.dsn, config.database), token, query_port)
        service.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        lander.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        lander.run()
    finally:
        if service is not None:
            service.stop()


def _token_source(settings: Settings) -> str:
    if settings.query_token is not None:
        return "STREAMHUB_QUERY_TOKEN"
    return str(settings.secrets_dir / "query_token")
