"""``streamhub clickhouse``: migrate the landing database, query it."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click
from clickhouse_connect.driver.exceptions import ClickHouseError

from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.land.clickhouse import as_land_error, check_database_name, connect
from streamhub.land.cluster_ddl import ClusterTarget
from streamhub.land.migrations import migrate
from streamhub.secrets_mask import mask_url

_TARGET_OPTIONS = [
    click.option("--dsn", help="chdb:///abs/path or http(s)://host:8123 (default: settings)."),
    click.option("--database", help="Database (default: settings.clickhouse_database)."),
]


def _target(func: Any) -> Any:
    for option in reversed(_TARGET_OPTIONS):
        func = option(func)
    return func


@click.group("clickhouse")
def clickhouse_group() -> None:
    """The ClickHouse landing database: tables, dashboard views, ad-hoc queries."""


@clickhouse_group.command("migrate")
@_target
@click.option(
    "--reset",
    is_flag=True,
    help="Drop the database first (the demo re-creates its institutions on every run).",
)
@click.pass_context
@fails_cleanly
def migrate_cmd(ctx: click.Context, dsn: str | None, database: str | None, reset: bool) -> None:
    """Create or update the std_*/ops_* tables and dashboard views. Idempotent.

    Applies the packaged migrations not yet recorded in <database>.schema_migrations; a
    second run applies nothing and says so. Works the same on chDB and a server. When the
    settings name a cluster (clickhouse_cluster, STREAMHUB_CLICKHOUSE_CLUSTER) the migrations
    are applied in cluster form: ON CLUSTER DDL, Replicated*MergeTree <table>_local tables and
    Distributed tables under the usual names (docs/decisions/clickhouse-cluster.md).
    """
    settings = settings_from(ctx)
    dsn = dsn or settings.clickhouse_dsn
    database = check_database_name(database or settings.clickhouse_database)
    cluster = (
        None
        if settings.clickhouse_cluster is None
        else ClusterTarget(settings.clickhouse_cluster, database)
    )
    on_cluster = "" if cluster is None else f" ON CLUSTER {cluster.cluster}"
    if reset or cluster is not None:
        admin = connect(dsn)
        try:
            if reset:
                sync = "" if cluster is None else " SYNC"  # replicas leave Keeper first
                admin.command(f"DROP DATABASE IF EXISTS `{database}`{on_cluster}{sync}")
                click.echo(f"dropped database {database} on {mask_url(dsn)}{on_cluster}")
            if cluster is not None:  # on every node, not only the one we talk to
                admin.command(f"CREATE DATABASE IF NOT EXISTS `{database}`{on_cluster}")
        except ClickHouseError as exc:
            raise as_land_error(exc, f"preparing database {database}{on_cluster}") from exc
        finally:
            admin.close()
    client = connect(dsn, database, create=True)
    try:
        result = migrate(client, cluster=cluster)
    finally:
        client.close()
    where = f"{database} on {mask_url(dsn)}{on_cluster}"
    for m in result.applied:
        click.echo(f"applied {m.version:04d}_{m.name}")
    if result.applied:
        click.echo(f"{len(result.applied)} migration(s) applied to {where}")
    else:
        click.echo(
            f"nothing to apply: {where} is up to date "
            f"({len(result.already)} migration(s) applied before)"
        )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@clickhouse_group.command("query")
@click.argument("sql")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people, json (one object per row) for scripts.",
)
@_target
@click.pass_context
@fails_cleanly
def query_cmd(
    ctx: click.Context, sql: str, fmt: str, dsn: str | None, database: str | None
) -> None:
    """Run one SQL statement and print its rows.

    With the embedded chDB DSN this opens the engine itself: run it only while no lander
    (or web app) has that chDB directory open — chDB allows one process per directory.
    Against a ClickHouse server it is always safe.
    """
    settings = settings_from(ctx)
    client = connect(dsn or settings.clickhouse_dsn, database or settings.clickhouse_database)
    try:
        result = client.query(sql)
    except ClickHouseError as exc:
        raise as_land_error(exc, "query") from exc
    finally:
        client.close()
    names = list(result.column_names)
    rows = [[_plain(v) for v in row] for row in result.result_rows]
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False))
        return
    cells = [names, *[["NULL" if v is None else str(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(names))]
    for n, row in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", err=True)
