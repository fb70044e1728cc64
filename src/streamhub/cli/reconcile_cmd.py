"""``streamhub reconcile``: the reconciliation app, its results, and the drill-down with repair."""

from __future__ import annotations

import json

import click

from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.core.clock import SYSTEM_CLOCK, now_ms
from streamhub.core.topic_names import RECONCILIATION


@click.group("reconcile")
def reconcile_group() -> None:
    """Reconciliation (数据对账): source counts against what was rejected and landed."""


@reconcile_group.command("run")
@click.option("--metrics-port", type=int, default=0, help="Serve Prometheus /metrics on this port.")
@click.option(
    "--grace",
    default="120s",
    show_default=True,
    help="Wait this long after a window's end before judging it.",
)
@click.option(
    "--retention",
    default="6h",
    show_default=True,
    help="Keep windows this long (and replay this much input on a start without a checkpoint).",
)
@click.option(
    "--checkpoint-every",
    default="5m",
    show_default=True,
    help="Write the state to the _reconcile_state topic this often; a start replays only the "
    "input after the last one (0: never, every start replays the retention).",
)
@click.option(
    "--judge-every",
    type=click.FloatRange(min=0.5),
    default=5.0,
    show_default=True,
    help="Seconds between judging passes.",
)
@click.pass_context
@fails_cleanly
def run_cmd(
    ctx: click.Context,
    metrics_port: int,
    grace: str,
    retention: str,
    judge_every: float,
    checkpoint_every: str,
) -> None:
    """Reconcile until stopped (SIGTERM/Ctrl-C): ops.source_counts, ops.landed_counts and
    the dead letters in, one result per judged window out to ops.reconciliation.

    On start the state is restored from the last checkpoint and the inputs after it (or,
    without one, rebuilt from the retention's inputs and published results), so a restart
    or kill -9 loses nothing. Run exactly one.
    """
    from streamhub.kafka.faust_worker import run_worker
    from streamhub.reconcile.app import Runtime, build_app, rebuild
    from streamhub.reconcile.feed import INPUT_TOPICS
    from streamhub.reconcile.reconciler import ReconcileSettings
    from streamhub.reconcile.state_topic import StateTopic
    from streamhub.reconcile.times import parse_duration_ms

    settings = settings_from(ctx)
    reconcile = ReconcileSettings(
        grace_ms=parse_duration_ms(grace), retention_ms=parse_duration_ms(retention)
    )
    runtime = Runtime.create(settings, reconcile, SYSTEM_CLOCK)
    runtime.checkpoint_every_s = parse_duration_ms(checkpoint_every) / 1000
    runtime.state_topic = StateTopic(settings, settings.reconcile_group)
    started = SYSTEM_CLOCK.monotonic()
    rebuild(runtime, settings.reconcile_group)
    origin = (
        "by replaying the retention"
        if runtime.restored is None
        else f"from checkpoint {runtime.restored.generation} and the input after it"
    )
    click.echo(
        f"reconcile: state rebuilt {origin} in {SYSTEM_CLOCK.monotonic() - started:.1f} s "
        f"({len(runtime.reconciler.windows)} windows); {', '.join(INPUT_TOPICS)} → "
        f"{RECONCILIATION} (group {settings.reconcile_group}, grace {grace}, retention "
        f"{retention}"
        + (f", metrics on {settings.metrics_host}:{metrics_port}" if metrics_port else "")
        + ")",
        err=True,
    )
    app = build_app(runtime, judge_every_s=judge_every)
    try:
        run_worker(
            app,
            loglevel=settings.log_level,
            metrics_port=metrics_port,
            metrics_host=settings.metrics_host,
        )
    finally:
        runtime.close()


@reconcile_group.command("show")
@click.option("--institution", required=True, help="Institution id (credit code).")
@click.option(
    "--since",
    default="30m",
    show_default=True,
    help="Windows from this long ago (30m, 6h) or this Asia/Shanghai time.",
)
@click.option(
    "--status",
    type=click.Choice(["MATCH", "MISSING", "EXCESS", "LATE", "PENDING"]),
    help="Only windows whose latest verdict is this.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_context
@fails_cleanly
def show_cmd(
    ctx: click.Context, institution: str, since: str, status: str | None, fmt: str
) -> None:
    """Print the latest verdict of every window of an institution (times in Asia/Shanghai),
    then totals per day. Reads ops.reconciliation."""
    from streamhub.reconcile.report import (
        COLUMNS,
        TOTAL_COLUMNS,
        Selection,
        as_json,
        read_results,
        render_table,
        row,
        select,
        total_rows,
    )
    from streamhub.reconcile.result import Status
    from streamhub.reconcile.times import local_minute, parse_since_ms

    settings = settings_from(ctx)
    since_ms = parse_since_ms(since, now_ms(SYSTEM_CLOCK))
    selection = Selection(institution, since_ms, None if status is None else Status(status))
    results = read_results(settings, since_ms)
    rows, totals = select(results, selection)
    if fmt == "json":
        if rows or totals:
            click.echo(as_json(rows, totals))
        return
    if not rows:
        what = f"{status} windows" if status else "reconciled windows"
        click.echo(
            f"no {what} of institution {institution} since {local_minute(since_ms)} "
            f"(Asia/Shanghai) in {RECONCILIATION}; is `streamhub reconcile run` running?"
        )
    else:
        click.echo(render_table([row(r) for r in rows], COLUMNS))
    if totals:
        click.echo("")
        click.echo(render_table(total_rows(totals), TOTAL_COLUMNS))


@reconcile_group.command("diff")
@click.option("--institution", required=True, help="Institution id (credit code).")
@click.option(
    "--table",
    "table_name",
    required=True,
    help="Source table as `reconcile show` prints it (database.[schema.]table).",
)
@click.option("--window", required=True, help="Window start, Asia/Shanghai (2026-11-25T08:01).")
@click.option("--repair", is_flag=True, help="Re-snapshot the missing rows and credit them.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="Seconds to wait for the re-snapshot and the landing of its rows.",
)
@click.option(
    "--slack",
    default="10m",
    show_default=True,
    help="Read the raw topic this far around the window (capture lag).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_context
@fails_cleanly
def diff_cmd(
    ctx: click.Context,
    institution: str,
    table_name: str,
    window: str,
    repair: bool,
    timeout: float,
    slack: str,
    fmt: str,
) -> None:
    """List the source changes of one window that neither landed nor were rejected (key,
    op, commit time, position); with --repair, re-read exactly those rows from the source,
    wait until they landed, and credit the window. Exits 1 when a key cannot be repaired."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from streamhub.reconcile.drill import drill
    from streamhub.reconcile.repair import repair as run_repair
    from streamhub.reconcile.report import render_table
    from streamhub.reconcile.times import (
        local_minute,
        local_time,
        parse_duration_ms,
        parse_local_ms,
    )
    from streamhub.serde.avro_serde import AvroSerde

    settings = settings_from(ctx)
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    found = drill(
        settings,
        serde,
        institution,
        table_name,
        parse_local_ms(window),
        slack_ms=parse_duration_ms(slack),
    )
    missing = found.missing
    where = f"{found.table.full_name} window {local_minute(found.window_start_ms)}"
    verdict = found.result
    click.echo(
        f"{where}: {found.source_changes} change(s) in the raw topic, "
        f"{len(found.landed - found.credited)} landed, {len(found.credited)} credited by repairs, "
        f"{len(found.rejected_versions) + len(found.rejected_origins)} rejected, "
        f"{len(missing)} missing"
        + (
            f" (last verdict {verdict.status.value}, difference {verdict.difference}, "
            f"revision {verdict.revision})"
            if verdict is not None
            else " (no verdict published)"
        ),
        err=True,
    )
    if fmt == "json":
        for change in missing:
            click.echo(
                json.dumps(
                    {
                        "key": change.key,
                        "op": change.op,
                        "commit_ts_ms": change.commit_ts_ms,
                        "position": change.position,
                        "position_seq": change.position_seq,
                        "version": change.version,
                        "connector": change.connector,
                    },
                    ensure_ascii=False,
                )
            )
    elif missing:
        click.echo(
            render_table(
                [[c.key_json, c.op, local_time(c.commit_ts_ms), c.position] for c in missing],
                ("key", "op", "commit_time", "position"),
            )
        )
    if not repair or not missing:
        return
    outcome = run_repair(
        settings,
        serde,
        found,
        timeout_s=timeout,
        progress=lambda line: click.echo(f"repair: {line}", err=True),
    )
    click.echo(
        f"repair {outcome.repair_id}: {len(outcome.credited)} change(s) restored and "
        f"credited to {where}",
        err=True,
    )
    if not outcome.complete:
        for change in outcome.not_repairable:
            click.echo(
                f"not repairable (no longer in the source): {change.key_json} "
                f"{change.op} at {change.position}",
                err=True,
            )
        raise SystemExit(1)
