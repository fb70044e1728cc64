"""``streamhub capture`` and ``streamhub connectors``: the log-based capture agent."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import click
from prometheus_client import start_http_server

from streamhub.capture.agent import CaptureAgent
from streamhub.capture.connector import ConnectorConfig, load_connectors
from streamhub.capture.signals import send_snapshot_request, wait_for_snapshot_done
from streamhub.capture.source import check_source
from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.config import Settings
from streamhub.kafka import probes

connectors_dir_option = click.option(
    "--connectors-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory of connector files [default: <project>/connectors].",
)


def _connectors(
    settings: Settings, directory: Path | None, names: tuple[str, ...]
) -> list[ConnectorConfig]:
    found = load_connectors(directory or settings.connectors_path, list(names) or None)
    if not found:
        raise click.UsageError(f"no connector files in {directory or settings.connectors_path}")
    return found


@click.group("capture", invoke_without_command=True)
@click.option(
    "--connector", "names", multiple=True, metavar="NAME", help="Only these (repeatable)."
)
@connectors_dir_option
@click.option(
    "--standalone",
    is_flag=True,
    help="Run every connector in this process, without the fail-over group.",
)
@click.option("--metrics-port", type=int, default=0, help="Serve Prometheus /metrics on this port.")
@click.pass_context
@fails_cleanly
def capture_group(
    ctx: click.Context,
    names: tuple[str, ...],
    connectors_dir: Path | None,
    standalone: bool,
    metrics_port: int,
) -> None:
    """Capture changes from the connectors' database logs into Kafka until stopped.

    Several agents started with the same connectors share them: each connector
    runs in exactly one agent, and moves to another within seconds if its agent
    dies. Positions are kept in Kafka, so any agent resumes where the last stopped.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_from(ctx)
    connectors = _connectors(settings, connectors_dir, names)
    debezium = sorted(c.name for c in connectors if c.by_debezium)
    if debezium:  # Kafka Connect runs those (`streamhub connectors apply`)
        if names:
            raise click.UsageError(
                f"{', '.join(debezium)}: capture_engine debezium; `streamhub connectors apply`"
            )
        click.echo(f"skipping Debezium-captured connectors: {', '.join(debezium)}", err=True)
        connectors = [c for c in connectors if not c.by_debezium]
    if metrics_port:
        start_http_server(metrics_port, addr=settings.metrics_host)
    probes.start_from_env(settings, loops=("capture",))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(
        f"capture agent: {len(connectors)} connectors "
        + ("(standalone)" if standalone else f"(group {settings.capture_group})"),
        err=True,
    )

    def changed(active: set[str]) -> None:
        click.echo(f"running {len(active)}: {', '.join(sorted(active)) or 'none'}", err=True)

    CaptureAgent(settings, connectors, coordinated=not standalone, on_change=changed).run(stop)
    click.echo("capture agent stopped; positions stored", err=True)


@capture_group.command("snapshot")
@click.option("--connector", required=True)
@click.option("--table", required=True, help="Table name (db.schema.table or just the name).")
@click.pass_context
@fails_cleanly
def snapshot_cmd(ctx: click.Context, connector: str, table: str) -> None:
    """Ask the running agent that holds CONNECTOR to re-snapshot one table (backfill)."""
    request_id = send_snapshot_request(settings_from(ctx), connector, table)
    click.echo(f"snapshot of {table} requested from {connector} (request {request_id})")


def _json_key(text: str) -> dict[str, Any]:
    try:
        key = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not JSON: {exc}", param_hint="--key") from exc
    if not isinstance(key, dict):
        raise click.BadParameter(f'{text!r} is not an object like {{"id": 5}}', param_hint="--key")
    return key


@capture_group.command("resnapshot")
@click.argument("connector")
@click.argument("table")
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="JSON",
    help="A primary key as JSON, e.g. '{\"id\": 5}' (repeatable); none: the whole table.",
)
@click.option("--wait", is_flag=True, help="Wait for the agent's answer and print it.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait.")
@click.pass_context
@fails_cleanly
def resnapshot_cmd(
    ctx: click.Context,
    connector: str,
    table: str,
    keys: tuple[str, ...],
    wait: bool,
    timeout: float,
) -> None:
    """Re-read rows of TABLE by primary key through the agent running CONNECTOR (repair).

    The rows are emitted again as snapshot reads (op r), consistent with the log. With
    --wait, prints each re-read key with the position_seq of its envelope, and the keys
    the source no longer has.
    """
    settings = settings_from(ctx)
    wanted = [_json_key(k) for k in keys] or None
    request_id = send_snapshot_request(settings, connector, table, wanted)
    what = f"{len(wanted)} keys of {table}" if wanted else f"all of {table}"
    click.echo(f"re-snapshot request {request_id} sent to {connector}: {what}")
    if not wait:
        return
    done = wait_for_snapshot_done(settings, request_id, timeout)
    for reread in done.read:
        key = json.dumps(reread.key, ensure_ascii=False, sort_keys=True)
        click.echo(f"re-read      {key}  position_seq {reread.position_seq}")
    for absent in done.not_found:
        click.echo(f"not in source {json.dumps(absent, ensure_ascii=False, sort_keys=True)}")
    click.echo(
        f"{done.table}: {len(done.read)} re-read ({done.rows} as snapshot reads), "
        f"{len(done.not_found)} not in the source"
    )


@click.group("connectors")
def connectors_group() -> None:
    """Connector files in connectors/: one per institution source."""


@connectors_group.command("list")
@connectors_dir_option
@click.pass_context
@fails_cleanly
def list_cmd(ctx: click.Context, connectors_dir: Path | None) -> None:
    """List connectors: institution, system, engine, database, tables."""
    for c in _connectors(settings_from(ctx), connectors_dir, ()):
        click.echo(
            f"{c.name:<24} {c.institution_id} {c.system:<4} {c.engine:<10} "
            f"{c.connection.database:<20} {len(c.tables)} tables  {c.encoding}"
        )


@connectors_group.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of a connector file."""
    click.echo(json.dumps(ConnectorConfig.model_json_schema(), indent=2, ensure_ascii=False))


@connectors_group.command("check")
@click.option("--connector", "names", multiple=True, metavar="NAME")
@connectors_dir_option
@click.pass_context
@fails_cleanly
def check_cmd(ctx: click.Context, names: tuple[str, ...], connectors_dir: Path | None) -> None:
    """Pre-flight checks of each source for log-based capture; exit 1 if any fails."""
    settings = settings_from(ctx)
    failed = 0
    for config in _connectors(settings, connectors_dir, names):
        if config.by_debezium:  # its plugin checks the source: `connectors apply`
            click.echo(f"{config.name}: Debezium (checked by `streamhub connectors apply`)")
            continue
        results = check_source(config, config.password(settings))
        bad = [r for r in results if not r.ok and r.severity == "error"]
        failed += bool(bad)
        click.echo(f"{config.name}: {'FAIL' if bad else 'ok'}")
        for r in results:
            mark = "ok " if r.ok else ("ERR" if r.severity == "error" else "warn")
            click.echo(f"  [{mark}] {r.name}: {r.detail}")
            if not r.ok and r.fix:
                click.echo(f"        fix: {r.fix}")
    if failed:
        raise SystemExit(1)
