"""``streamhub anomaly``: the traffic-anomaly app, its suppressions, and what it found."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import click

from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.core.clock import SYSTEM_CLOCK
from streamhub.core.clock import now_ms as clock_now_ms

DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhd]?)")
UNIT_MS = {"": 1000, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(text: str) -> int:
    """``90s``, ``10m``, ``2h``, ``3d`` or plain seconds, as milliseconds."""
    match = DURATION.fullmatch(text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration; write e.g. 90s, 10m, 2h or 3d")
    return round(float(match["n"]) * UNIT_MS[match["unit"]])


def parse_moment_ms(text: str, now_ms: int | None = None) -> int:
    """An ISO 8601 time (naive = this machine's local time), ``now``, or ``now±DURATION``."""
    now = clock_now_ms(SYSTEM_CLOCK) if now_ms is None else now_ms
    value = text.strip()
    if value == "now":
        return now
    relative = re.fullmatch(r"now([+-])(.+)", value)
    if relative:
        delta = parse_duration_ms(relative[2])
        return now + delta if relative[1] == "+" else now - delta
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r} is not a time; write ISO 8601 (2026-03-02T08:30+08:00), now or now+2h"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the operator's local time
    return int(moment.timestamp() * 1000)


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


SUPPRESSIONS_OPTION = click.option(
    "--suppressions-topic",
    default="_anomaly_suppressions",
    show_default=True,
    help="Compacted topic of acknowledgements and maintenance windows.",
)


@click.group("anomaly")
def anomaly_group() -> None:
    """Traffic anomalies per feed: the detector app, suppressions, and its findings."""


@anomaly_group.command("run")
@click.option("--metrics-port", type=int, default=0, help="Serve Prometheus /metrics on this port.")
@click.option(
    "--compression",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Business seconds per wall second of the sources (the simulator's --compression).",
)
@click.option(
    "--business-origin",
    default=None,
    help="With --compression: the business time (ISO) at --wall-origin (the simulator's start).",
)
@click.option(
    "--wall-origin", default=None, help="With --business-origin: the wall time it corresponds to."
)
@click.option(
    "--history",
    default="3d",
    show_default=True,
    help="Warm start: replay this much of the inputs before judging live (0: cold start).",
)
@click.option(
    "--snapshot-interval",
    default="10m",
    show_default=True,
    help="Snapshot the detector this often; a restart replays only the inputs after the "
    "latest (0: no snapshots, every start replays --history).",
)
@click.option(
    "--state-topic",
    default=None,
    help="Compacted topic of the detector's snapshots [default: _anomaly_state.<group>].",
)
@click.option(
    "--min-history",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Minutes of a feed's traffic seen before it is judged (cold start stays quiet).",
)
@click.option(
    "--tick-s",
    type=click.FloatRange(min=0.5),
    default=5.0,
    show_default=True,
    help="How often heartbeats are checked and suppressions applied.",
)
@click.option(
    "--stale-after",
    default="60s",
    show_default=True,
    help="A connector without a heartbeat this long is down (SILENCE); heartbeats come "
    "every few seconds.",
)
@click.option(
    "--connectors",
    "patterns",
    multiple=True,
    help="Watch only connectors whose name matches this shell pattern (repeatable).",
)
@SUPPRESSIONS_OPTION
@click.pass_context
@fails_cleanly
def run_cmd(
    ctx: click.Context,
    metrics_port: int,
    compression: float,
    business_origin: str | None,
    wall_origin: str | None,
    history: str,
    snapshot_interval: str,
    state_topic: str | None,
    min_history: int,
    tick_s: float,
    stale_after: str,
    patterns: tuple[str, ...],
    suppressions_topic: str,
) -> None:
    """Judge every feed's events per minute against its own baseline, until stopped.

    Reads ops.source_counts and ops.heartbeat, writes ops.anomaly (one instance per
    group). Starts warm: from the latest snapshot and the inputs after it, or, with none,
    by replaying the last --history of the inputs.
    """
    # imported here: Faust and the detector are not needed for `streamhub --help`
    from streamhub.anomaly.app import Snapshotter, build_app
    from streamhub.anomaly.baseline import BaselineConfig, SeasonalCalendar
    from streamhub.anomaly.detector import DetectorConfig
    from streamhub.anomaly.service import Scope
    from streamhub.anomaly.snapshot_log import SnapshotLog
    from streamhub.anomaly.startup import StartOptions, start
    from streamhub.kafka.faust_worker import run_worker

    settings = settings_from(ctx)
    if (business_origin is None) != (wall_origin is None):
        raise click.UsageError("give --business-origin and --wall-origin together")
    seasonal = SeasonalCalendar(compression=compression)
    if business_origin is not None and wall_origin is not None:
        seasonal = SeasonalCalendar(
            compression=compression,
            origin_ms=parse_moment_ms(wall_origin),
            business_origin_ms=parse_moment_ms(business_origin),
        )
    config = DetectorConfig(
        baseline=BaselineConfig(seasonal=seasonal, min_history=min_history),
        stale_after_ms=parse_duration_ms(stale_after),
    )
    options = StartOptions(
        detector=config,
        history_ms=parse_duration_ms(history),
        scope=Scope(patterns),
        suppressions_topic=suppressions_topic,
        tick_ms=round(tick_s * 1000),
        state_topic=state_topic,
        snapshot_interval_ms=parse_duration_ms(snapshot_interval),
    )
    service, follower, warm = start(settings, options)
    click.echo(warm.describe(), err=True)
    snapshots = None
    if options.snapshot_interval_ms > 0:
        log = SnapshotLog(settings.kafka_bootstrap, options.state_topic_for(settings))
        snapshots = Snapshotter(
            service, log, options.snapshot_interval_ms, take_first=warm.source == "history"
        )
    app = build_app(settings, service, follower, tick_s=tick_s, snapshots=snapshots)
    click.echo(
        f"anomaly: ops.source_counts + ops.heartbeat → ops.anomaly (group "
        f"{settings.anomaly_group}, Kafka {settings.kafka_bootstrap}, compression "
        f"{compression:g}, min history {min_history} min"
        + (f", connectors {' '.join(patterns)}" if patterns else "")
        + (f", metrics on {settings.metrics_host}:{metrics_port}" if metrics_port else "")
        + ")",
        err=True,
    )
    run_worker(
        app,
        loglevel=settings.log_level,
        metrics_port=metrics_port,
        metrics_host=settings.metrics_host,
    )


@anomaly_group.command("ack")
@click.argument("anomaly_id")
@click.option("--by", "by", required=True, help="Who acknowledges (shown as ack:NAME).")
@click.option("--until", default=None, help="Until when (ISO, now+2h); default: until it closes.")
@click.option("--note", default="", help="Why, for the record.")
@click.option(
    "--since", default="7d", show_default=True, help="How far back to look for the anomaly id."
)
@SUPPRESSIONS_OPTION
@click.pass_context
@fails_cleanly
def ack_cmd(
    ctx: click.Context,
    anomaly_id: str,
    by: str,
    until: str | None,
    note: str,
    since: str,
    suppressions_topic: str,
) -> None:
    """Acknowledge an open anomaly: it stays visible, marked suppressed, and stops paging."""
    from streamhub.anomaly.errors import UnknownAnomalyError
    from streamhub.anomaly.report import latest_states
    from streamhub.anomaly.suppression import Acknowledgement
    from streamhub.anomaly.suppression_log import SuppressionLog

    settings = settings_from(ctx)
    now = clock_now_ms(SYSTEM_CLOCK)
    state = latest_states(settings, now - parse_duration_ms(since)).get(anomaly_id)
    if state is None:
        raise UnknownAnomalyError(anomaly_id, since)
    until_ms = parse_moment_ms(until, now) if until else None
    ack = Acknowledgement(anomaly_id, by=by, at_ms=now, until_ms=until_ms, note=note)
    SuppressionLog(settings.kafka_bootstrap, suppressions_topic).acknowledge(ack)
    click.echo(
        f"acknowledged {anomaly_id} ({state.kind} of {state.record['institution_id']} "
        f"{state.record['system']} {state.record['table'] or '*'}) by {by}"
        + (f" until {_utc(until_ms)}" if until_ms else " until it closes")
        + ("" if state.is_open else "; note: it has already recovered")
    )


@anomaly_group.command("maintenance")
@click.option("--institution", required=True, help="Institution id (credit code).")
@click.option("--system", default=None, help="Only this system (his, lis …); default all.")
@click.option("--table", default=None, help="Only this feed (database.schema.table).")
@click.option("--from", "start", required=True, help="Start (ISO 8601, now, now+1h).")
@click.option("--to", "end", required=True, help="End (ISO 8601, now+2h).")
@click.option("--reason", required=True, help="Why (shown with the suppression).")
@click.option("--id", "window_id", default=None, help="Window id (default: generated).")
@SUPPRESSIONS_OPTION
@click.pass_context
@fails_cleanly
def maintenance_cmd(
    ctx: click.Context,
    institution: str,
    system: str | None,
    table: str | None,
    start: str,
    end: str,
    reason: str,
    window_id: str | None,
    suppressions_topic: str,
) -> None:
    """Declare a maintenance window: its minutes are neither judged nor learned."""
    from streamhub.anomaly.suppression import MaintenanceWindow
    from streamhub.anomaly.suppression_log import SuppressionLog

    settings = settings_from(ctx)
    now = clock_now_ms(SYSTEM_CLOCK)
    window = MaintenanceWindow(
        window_id or f"mw-{uuid.uuid4().hex[:8]}",
        institution,
        parse_moment_ms(start, now),
        parse_moment_ms(end, now),
        system=system,
        table=table,
        reason=reason,
    )
    SuppressionLog(settings.kafka_bootstrap, suppressions_topic).declare(window)
    scope = " ".join(filter(None, [institution, system, table]))
    click.echo(
        f"maintenance {window.window_id}: {scope} from {_utc(window.start_ms)} to "
        f"{_utc(window.end_ms)} ({reason})"
    )


@anomaly_group.command("cancel-maintenance")
@click.argument("window_id")
@SUPPRESSIONS_OPTION
@click.pass_context
@fails_cleanly
def cancel_maintenance_cmd(ctx: click.Context, window_id: str, suppressions_topic: str) -> None:
    """Cancel a declared maintenance window (its remaining minutes are judged again)."""
    from streamhub.anomaly.suppression_log import SuppressionLog

    settings = settings_from(ctx)
    SuppressionLog(settings.kafka_bootstrap, suppressions_topic).cancel(window_id)
    click.echo(f"maintenance {window_id} cancelled")


@anomaly_group.command("show")
@click.option("--open", "only_open", is_flag=True, help="Only anomalies not yet recovered.")
@click.option("--since", default="24h", show_default=True, help="Events written since (10m, 2d).")
@click.option("--institution", default=None, help="Only this institution id.")
@click.option(
    "--by-institution",
    is_flag=True,
    help="One line per institution with open unsuppressed anomalies (as alerts fire), worst first.",
)
@click.pass_context
@fails_cleanly
def show_cmd(
    ctx: click.Context, only_open: bool, since: str, institution: str | None, by_institution: bool
) -> None:
    """List anomalies from ops.anomaly: the latest state of each, oldest first."""
    from streamhub.anomaly.report import latest_states, render, render_rollup

    settings = settings_from(ctx)
    since_ms = clock_now_ms(SYSTEM_CLOCK) - parse_duration_ms(since)
    states = [
        s
        for s in latest_states(settings, since_ms).values()
        if (not only_open or s.is_open) and institution in (None, s.record["institution_id"])
    ]
    if not states:
        click.echo(f"no {'open ' if only_open else ''}anomalies since {_utc(since_ms)}")
        return
    if by_institution:
        click.echo(render_rollup(states))
        return
    click.echo(render(states))
    opened = sum(s.is_open for s in states)
    click.echo(f"{len(states)} anomalies, {opened} open, since {_utc(since_ms)}")
