"""``streamhub standardize``: the standardize worker (cdc.raw.* → std.*) in the foreground."""

from __future__ import annotations

import click

from streamhub.cli.context import fails_cleanly, settings_from


@click.command("standardize")
@click.option("--metrics-port", type=int, default=0, help="Serve Prometheus /metrics on this port.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Largest batch handed to the standardizer.",
)
@click.option(
    "--within-ms",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Hand over a smaller batch once this long has passed (bounds latency).",
)
@click.option(
    "--transport",
    type=click.Choice(["hosted", "agent"]),
    default="hosted",
    show_default=True,
    help="hosted: a confluent-kafka batch loop in the worker; agent: a Faust agent "
    "(slower, see docs/decisions/standardize.md).",
)
@click.option(
    "--topic",
    "topics",
    multiple=True,
    metavar="TOPIC",
    help="Read only these raw topics (repeatable) [default: cdc.raw.his, .emr, .lis, .pacs].",
)
@click.pass_context
@fails_cleanly
def standardize_cmd(
    ctx: click.Context,
    metrics_port: int,
    batch_size: int,
    within_ms: int,
    transport: str,
    topics: tuple[str, ...],
) -> None:
    """Standardize raw change envelopes into std.* topics until stopped (SIGTERM/Ctrl-C).

    At-least-once: a batch's offsets are committed only after every output of the batch
    was delivered, so a crash re-processes at most the batch in hand (the lander is
    idempotent).
    """
    # imported here: the standardizer pulls in profiles, codes and Avro schemas, which
    # `streamhub --help` should not pay for
    from streamhub.core.topic_names import RAW_TOPICS
    from streamhub.kafka.faust_worker import run_worker
    from streamhub.standardize.app import build_app
    from streamhub.standardize.pipeline import Standardizer

    settings = settings_from(ctx)
    source_topics = topics or RAW_TOPICS
    processor = Standardizer.from_settings(settings)
    app = build_app(
        settings,
        processor,
        source_topics=source_topics,
        batch_size=batch_size,
        within_s=within_ms / 1000,
        transport="agent" if transport == "agent" else "hosted",
    )
    click.echo(
        f"standardize: {', '.join(source_topics)} → std.*, ops.quality, dlq.standardize "
        f"(group {settings.standardize_group}, Kafka {settings.kafka_bootstrap}, "
        f"batches of ≤{batch_size} within {within_ms} ms, {transport} transport"
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
