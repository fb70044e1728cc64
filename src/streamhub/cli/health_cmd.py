"""``streamhub health``: link health of every institution, hop by hop, from Kafka."""

from __future__ import annotations

import signal
import threading

import click

from streamhub.cli.context import fails_cleanly, settings_from

EXIT_DEGRADED = 3
EXIT_DOWN = 4


@click.command("health")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--institution",
    "institutions",
    multiple=True,
    metavar="ID",
    help="Only this institution (credit code); repeatable.",
)
@click.option(
    "--district",
    "districts",
    multiple=True,
    metavar="NAME|CODE",
    help="Only institutions of this district: its name (思明区) or administrative division "
    "code or prefix (350203, 3502); repeatable.",
)
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["healthy", "degraded", "down"]),
    help="Only institutions in this state; repeatable.",
)
@click.option(
    "--worst",
    "worst_n",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many of the worst institutions the summary lists.",
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="After the summary, the full table of every institution shown (by id).",
)
@click.option(
    "--threshold",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override one limit, e.g. heartbeat_down_s=60 (repeatable; see streamhub.health"
    ".thresholds for names and defaults).",
)
@click.option("--serve", is_flag=True, help="Keep checking and serve the gauges on /metrics.")
@click.option("--metrics-port", type=int, default=39105, show_default=True, help="Port of --serve.")
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=10.0,
    show_default=True,
    help="Seconds between checks of --serve.",
)
@click.pass_context
@fails_cleanly
def health_cmd(
    ctx: click.Context,
    fmt: str,
    institutions: tuple[str, ...],
    districts: tuple[str, ...],
    states: tuple[str, ...],
    worst_n: int,
    show_all: bool,
    overrides: tuple[str, ...],
    serve: bool,
    metrics_port: int,
    interval: float,
) -> None:
    """Link health per institution: source, capture, channel, processing and center.

    Reads Kafka only (heartbeats, consumer offsets, dead letters, source and landed
    counts), never ClickHouse, so it runs beside the lander. Institutions are those of the
    connector files (with exactly their connectors) plus any other heard of through
    heartbeats in the horizon (15 min).

    \b
    source      database reachable (probed only when the heartbeat is late),
                slot/binlog retained, lag behind the source's commits
    capture     heartbeat age, failed/paused state, restarts, errors, dlq.capture
    channel     Kafka and the raw topics, consumer lag (messages) per stage
    processing  age of the standardizer's oldest unprocessed change, dlq.standardize
    center      age of the lander's oldest unlanded record, source changes not
                landed yet (an idle institution is not late), dlq.land

    The table output starts with a summary: institutions per state, the hops failing
    across them, and the worst (--worst, 10 by default) as a table; --all adds the full
    table. With as many institutions as --worst or fewer, the full table is printed.
    --institution, --district and --state narrow what is shown (and the exit status); the
    JSON output holds every institution shown and the summary.

    Exit status: 0 all shown institutions healthy, 3 at least one degraded and none down,
    4 at least one down, 1 the check itself failed, 2 bad usage or configuration.
    With --serve it runs until SIGTERM/Ctrl-C and exits 0.
    """
    # imported here: `streamhub --help` should not pay for Kafka and Avro
    from streamhub.health.errors import HealthError
    from streamhub.health.evaluate import evaluate
    from streamhub.health.gather import gather
    from streamhub.health.model import Status
    from streamhub.health.render import as_json, summary_text, table
    from streamhub.health.serve import serve as serve_forever
    from streamhub.health.summary import district_codes, select, summarize
    from streamhub.health.thresholds import Thresholds

    settings = settings_from(ctx)
    limits = Thresholds().with_overrides(list(overrides))
    for district in districts:
        district_codes(district)  # a misspelt district fails before Kafka is read
    if serve:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        click.echo(
            f"link health: checking Kafka {settings.kafka_bootstrap} every {interval:g} s, "
            f"gauges on {settings.metrics_host}:{metrics_port}/metrics",
            err=True,
        )
        serve_forever(settings, limits, port=metrics_port, interval_s=interval, stop=stop)
        click.echo("link health: stopped", err=True)
        return
    observation = gather(settings, limits)
    healths = evaluate(observation, limits)
    if institutions:
        unknown = sorted(set(institutions) - {h.institution_id for h in healths})
        if unknown:
            raise HealthError(
                f"no institution {', '.join(unknown)} in the connector files under "
                f"{settings.connectors_path} nor in recent heartbeats"
            )
        healths = select(healths, institutions=institutions)
    if not healths and observation.kafka_error is not None:
        raise HealthError(observation.kafka_error)
    if healths and (districts or states):
        healths = select(healths, districts=districts, states=states)
        if not healths:
            click.echo("no institution matches --district/--state", err=True)
    elif not healths:
        click.echo(
            f"no connector files under {settings.connectors_path} and no heartbeats in the "
            f"last {limits.horizon_s / 60:.0f} min: no institution to check",
            err=True,
        )
    if fmt == "json":
        click.echo(as_json(healths, observation))
    elif len(healths) <= worst_n:
        click.echo(table(healths))  # a few institutions: all of them at once
    else:
        click.echo(summary_text(summarize(healths, worst_n), healths))
        if show_all:
            click.echo(f"\nall {len(healths):,}:\n{table(healths)}")
        else:
            click.echo(
                f"\n({len(healths):,} institutions shown; --all for the full table, --state "
                "and --district to narrow it)"
            )
    worst = max((h.overall for h in healths), default=Status.HEALTHY)
    if worst is not Status.HEALTHY:
        raise SystemExit(EXIT_DOWN if worst is Status.DOWN else EXIT_DEGRADED)
