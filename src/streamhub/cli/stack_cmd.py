"""``streamhub stack up|down|status``: the local stack of real services."""

from __future__ import annotations

import dataclasses
import json
import sys

import click

from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK
from streamhub.secrets_mask import mask_url
from streamhub.stack.chromium import ensure_installed as ensure_chromium
from streamhub.stack.connect import KafkaConnect
from streamhub.stack.kafka import Kafka
from streamhub.stack.kafka_cluster import MAX_BROKERS
from streamhub.stack.permissions import lock_down
from streamhub.stack.prometheus import ensure_installed as ensure_prometheus
from streamhub.stack.secrets import stack_secret
from streamhub.stack.service import Service
from streamhub.stack.services import SERVICE_TYPES, services

CONNECT = "connect"  # the Kafka Connect worker: only when named (or --connect)
SERVICE_NAMES = click.Choice([*SERVICE_TYPES, CONNECT])


def _named(
    settings: Settings, names: tuple[str, ...], connect: bool, brokers: int | None = None
) -> list[Service]:
    """The services named (all of the stack's when none is), Kafka Connect last if asked."""
    base = tuple(name for name in names if name != CONNECT)
    chosen: list[Service] = services(settings, base, brokers) if base or not names else []
    if connect or CONNECT in names:
        chosen.append(KafkaConnect(settings))  # after Kafka, which keeps its state
    return chosen


@click.group("stack")
def stack_group() -> None:
    """Start, stop and inspect the local stack (Kafka, registry, PostgreSQL, MariaDB).

    Services bind 127.0.0.1 only and keep their data under the data directory
    (STREAMHUB_DATA_DIR, default .streamhub/). ClickHouse is the embedded chDB
    engine, opened by the process that lands data; it has no service here.
    """


@stack_group.command("up")
@click.argument("names", nargs=-1, type=SERVICE_NAMES)
@click.option(
    "--browser",
    is_flag=True,
    help="Also install Debian's Chromium (the web app's browser test drives it).",
)
@click.option(
    "--connect",
    is_flag=True,
    help="Also run a Kafka Connect worker with Debezium's plugins (Oracle, SQL Server, "
    "PostgreSQL, MySQL) at STREAMHUB_CONNECT_URL; first start resolves its jars from Maven.",
)
@click.option(
    "--brokers",
    type=click.IntRange(1, MAX_BROKERS),
    default=None,
    help="Kafka brokers of a new cluster (default: one per STREAMHUB_KAFKA_BOOTSTRAP address; "
    "one address P gives ports P, P+2, ...; controllers one above each). A data dir keeps "
    "the size it was created with (kafka/cluster.json).",
)
@click.pass_context
@fails_cleanly
def up(
    ctx: click.Context,
    names: tuple[str, ...],
    browser: bool,
    connect: bool,
    brokers: int | None,
) -> None:
    """Install what is missing, then start services (all by default). Idempotent.

    The Kafka Connect worker (Debezium) starts only when named (`stack up connect`) or
    with --connect.
    """
    settings = settings_from(ctx)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    stack_secret(settings, "pseudonym_key")  # no service owns it: the standardizer reads it
    stack_secret(settings, "pseudonym_identity_key")  # record ids and internal ids
    stack_secret(settings, "query_token")  # shared by the lander's query endpoint and its readers
    # not a service: promtool checks the alert rules, tests scrape with the server
    click.echo(f"prometheus (package): {ensure_prometheus()[1]}")
    if browser:
        click.echo(f"chromium (package): {ensure_chromium()[1]}")
    for service in _named(settings, names, connect, brokers):
        tty = sys.stdout.isatty()
        if tty:
            click.echo(f"{service.name}: starting ...", nl=False)
        started = SYSTEM_CLOCK.monotonic()
        try:
            outcome = service.up()
        except BaseException:
            click.echo(" failed" if tty else f"{service.name}: failed")
            raise
        prefix = "\r" if tty else ""
        click.echo(f"{prefix}{service.name}: {outcome} ({SYSTEM_CLOCK.monotonic() - started:.1f}s)")
    # data written before umask 077 (or by a tool setting its own modes) made owner-only
    changed = lock_down(settings.data_dir)
    if changed:
        click.echo(f"permissions: {changed} path(s) under {settings.data_dir} made owner-only")


@stack_group.command("down")
@click.argument("names", nargs=-1, type=SERVICE_NAMES)
@click.pass_context
@fails_cleanly
def down(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Stop services (all by default, Kafka Connect too), keeping their data. Idempotent."""
    settings = settings_from(ctx)
    for service in reversed(_named(settings, names, connect=not names)):
        click.echo(f"{service.name}: {service.down()}")


@stack_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@fails_cleanly
def status(ctx: click.Context, as_json: bool) -> None:
    """Show each service's state and address; exit 1 if any is down."""
    settings = settings_from(ctx)
    shown: list[Service] = services(settings)
    connect = KafkaConnect(settings)
    if connect.started_here:  # shown once `stack up --connect` ran, until `stack down`
        shown.append(connect)
    found = [line for service in shown for line in service.statuses()]
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(s) for s in found]))
    else:
        click.echo(f"{'service':<10} {'state':<8} {'pid':>7}  {'address':<24} detail")
        for s in found:
            state = "up" if s.running else "down"
            click.echo(f"{s.name:<10} {state:<8} {s.pid or '-':>7}  {s.address:<24} {s.detail}")
        dsn = mask_url(settings.clickhouse_dsn)
        click.echo(f"{'clickhouse':<10} {'embedded':<8} {'-':>7}  {dsn}")
    if not all(s.running for s in found):
        raise SystemExit(1)


@stack_group.group("broker")
def broker_group() -> None:
    """Stop or start one broker of the local Kafka cluster (fault tests; `stack up --brokers`)."""


@broker_group.command("stop")
@click.argument("node_id", type=int)
@click.option("--kill", is_flag=True, help="SIGKILL at once (a lost machine), not a clean stop.")
@click.pass_context
@fails_cleanly
def broker_stop(ctx: click.Context, node_id: int, kill: bool) -> None:
    """Stop broker NODE_ID (its data stays; `stack broker start` brings it back)."""
    click.echo(Kafka(settings_from(ctx)).stop_node(node_id, kill=kill))


@broker_group.command("start")
@click.argument("node_id", type=int)
@click.pass_context
@fails_cleanly
def broker_start(ctx: click.Context, node_id: int) -> None:
    """Start broker NODE_ID of the existing cluster again and wait until it is registered."""
    click.echo(Kafka(settings_from(ctx)).start_node(node_id))
