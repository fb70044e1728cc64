"""``streamhub debezium``: what runs beside Kafka Connect for Debezium-captured sources."""

from __future__ import annotations

import signal
import threading

import click

from streamhub.cli.context import fails_cleanly, settings_from


@click.group("debezium")
def debezium_group() -> None:
    """Debezium (on Kafka Connect) as a second capture engine."""


@debezium_group.command("normalize")
@click.option(
    "--connector",
    "names",
    multiple=True,
    metavar="NAME",
    help="Connector file name to normalize (repeatable).",
)
@click.option("--all", "every", is_flag=True, help="Every connector file whose engine is debezium.")
@click.option(
    "--prefix",
    help="Debezium topic prefix to read (one --connector only; default: dbz.<connector>).",
)
@click.option("--group", help="Kafka consumer group (one --connector only).")
@click.option(
    "--connect-url",
    help="Kafka Connect's REST API, for the heartbeats' connector states "
    "[default: settings.connect_url].",
)
@click.option("--no-heartbeats", is_flag=True, help="Do not write ops.heartbeat records.")
@click.pass_context
@fails_cleanly
def normalize_cmd(
    ctx: click.Context,
    names: tuple[str, ...],
    every: bool,
    prefix: str | None,
    group: str | None,
    connect_url: str | None,
    no_heartbeats: bool,
) -> None:
    """Rewrite Debezium change events into cdc.raw.* envelopes until stopped (SIGTERM/Ctrl-C).

    At-least-once: a batch's Debezium offsets are committed only after every envelope and
    dead letter it produced is acknowledged; events that cannot be carried go to
    dlq.capture with the reason.
    """
    from streamhub.capture.connector import load_connectors
    from streamhub.debezium.normalize import batch_loop, heartbeats
    from streamhub.debezium.normalize_errors import NormalizeError
    from streamhub.debezium.render import topic_prefix

    if bool(names) == every:
        raise click.UsageError("give --connector NAME (repeatable) or --all")
    if (prefix or group) and len(names) != 1:
        raise click.UsageError("--prefix and --group go with exactly one --connector")
    settings = settings_from(ctx)
    configs = load_connectors(settings.connectors_path, list(names) or None)
    if every:
        configs = [c for c in configs if c.by_debezium]
        if not configs:
            raise NormalizeError(
                f"no connector file under {settings.connectors_path} has engine: debezium"
            )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    threads = []
    carried = []
    for config in configs:
        read = prefix or topic_prefix(config)
        loop, normalizer = batch_loop(settings, config, prefix=read, group=group)
        carried.append((config, normalizer.carried))
        click.echo(
            f"debezium normalize: {read}.* → {config.topic}, dlq.capture "
            f"(group {loop.options.group}, Kafka {settings.kafka_bootstrap})",
            err=True,
        )
        thread = threading.Thread(
            target=loop.run, args=(stop,), name=f"normalize-{config.name}", daemon=True
        )
        thread.start()
        threads.append(thread)
    if not no_heartbeats:
        url = connect_url or settings.connect_url
        beats = heartbeats(settings, carried, url)
        interval = min(c.heartbeat_s for c in configs)
        thread = threading.Thread(
            target=beats.run, args=(stop, interval), name="heartbeats", daemon=True
        )
        thread.start()
        threads.append(thread)
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(0.5)


@debezium_group.command("counts")
@click.option(
    "--connector",
    "names",
    multiple=True,
    metavar="NAME",
    help="Debezium connector file whose source log to count (repeatable).",
)
@click.option("--all", "every", is_flag=True, help="Every connector file whose engine is debezium.")
@click.pass_context
@fails_cleanly
def counts_cmd(ctx: click.Context, names: tuple[str, ...], every: bool) -> None:
    """Count Debezium-captured sources' logs into ops.source_counts until stopped.

    Per table and commit minute, from the source's own log (PostgreSQL: a slot and
    publication streamhub_counts_<name>; MySQL/MariaDB: a binlog stream with the file's
    server_id + 1,000,000), independent of Debezium's output, so reconciliation and the
    anomaly detector judge what Debezium delivered. No change envelope is written.
    """
    from streamhub.capture.connector import load_connectors
    from streamhub.debezium.counts_log import CountsError, LogCounter

    if bool(names) == every:
        raise click.UsageError("give --connector NAME (repeatable) or --all")
    settings = settings_from(ctx)
    configs = [c for c in load_connectors(settings.connectors_path, list(names) or None)]
    configs = [c for c in configs if c.by_debezium]
    if not configs:
        raise CountsError(
            f"no connector file under {settings.connectors_path} has capture_engine: debezium"
        )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    errors: list[BaseException] = []

    def run(counter: LogCounter) -> None:
        try:
            counter.run(stop)
        except Exception as exc:  # one source failing stops all: the operator restarts
            errors.append(exc)
            stop.set()

    threads = []
    for config in configs:
        counter = LogCounter(settings, config)
        click.echo(f"debezium counts: {config.name} → ops.source_counts", err=True)
        thread = threading.Thread(target=run, args=(counter,), name=f"counts-{config.name}")
        thread.start()
        threads.append(thread)
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(0.5)
    if errors:
        raise errors[0]
