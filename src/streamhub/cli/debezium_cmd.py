"""``streamhub debezium``: what runs beside Kafka Connect for Debezium-captured sources."""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable

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
    help="Debezium connector file whose source to count (repeatable).",
)
@click.option("--all", "every", is_flag=True, help="Every connector file whose engine is debezium.")
@click.option(
    "--once",
    is_flag=True,
    help="SQL Server only: count the change tables once (the last --lookback-minutes), then exit.",
)
@click.option(
    "--print",
    "to_stdout",
    is_flag=True,
    help="SQL Server only: print the records as JSON lines instead of writing them to Kafka.",
)
@click.option(
    "--server-time-zone",
    default="China Standard Time",
    show_default=True,
    help="SQL Server: the server's Windows time-zone name (cdc.lsn_time_mapping is local time).",
)
@click.option(
    "--lookback-minutes",
    type=click.IntRange(1, 7 * 24 * 60),
    default=10,
    show_default=True,
    help="SQL Server: complete minutes counted again on each pass.",
)
@click.option(
    "--every-s",
    type=click.FloatRange(1, 3600),
    default=30.0,
    show_default=True,
    help="SQL Server: seconds between passes.",
)
@click.pass_context
@fails_cleanly
def counts_cmd(
    ctx: click.Context,
    names: tuple[str, ...],
    every: bool,
    once: bool,
    to_stdout: bool,
    server_time_zone: str,
    lookback_minutes: int,
    every_s: float,
) -> None:
    """Count Debezium-captured sources into ops.source_counts until stopped.

    Per table and commit minute, independent of Debezium's output: PostgreSQL/MySQL/MariaDB
    from the source's own log (PostgreSQL: a slot and publication streamhub_counts_<name>;
    MySQL/MariaDB: a binlog stream with the file's server_id + 1,000,000), plus Debezium's
    snapshot reads counted from its change topics; SQL Server from its CDC change tables
    (pyodbc and Microsoft's ODBC driver needed). Oracle is not counted yet. No change envelope
    is written.
    """
    import json

    from streamhub.capture.connector import load_connectors
    from streamhub.core.clock import SYSTEM_CLOCK, now_ms
    from streamhub.debezium.counts_log import CountsError, LogCounter
    from streamhub.debezium.counts_snapshot import SnapshotReads
    from streamhub.debezium.counts_sqlserver import (
        ChangeTableCounter,
        CountsProducer,
        odbc_connect,
    )
    from streamhub.debezium.render import NO_DATA_MODES, snapshot_mode

    if bool(names) == every:
        raise click.UsageError("give --connector NAME (repeatable) or --all")
    settings = settings_from(ctx)
    configs = [c for c in load_connectors(settings.connectors_path, list(names) or None)]
    configs = [c for c in configs if c.by_debezium]
    if not configs:
        raise CountsError(
            f"no connector file under {settings.connectors_path} has capture_engine: debezium"
        )
    for config in [c for c in configs if c.engine == "oracle"]:
        click.echo(
            f"debezium counts: {config.name}: Oracle sources are not counted yet (LogMiner "
            "counts are not built; docs/decisions/debezium.md); skipped",
            err=True,
        )
    configs = [c for c in configs if c.engine != "oracle"]
    tables = [c for c in configs if c.engine == "sqlserver"]
    logs = [c for c in configs if c.engine != "sqlserver"]
    if (once or to_stdout) and logs:
        raise click.UsageError(
            "--once and --print count SQL Server change tables only; "
            f"{', '.join(c.name for c in logs)} count from their logs until stopped"
        )
    if not configs:
        raise CountsError("no Debezium connector file here can be counted")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except Exception as exc:  # one source failing stops all: the operator restarts
                errors.append(exc)
                stop.set()

        return run

    def emit(records: list[dict[str, object]]) -> None:
        for record in records:
            click.echo(json.dumps(record, sort_keys=True, ensure_ascii=False))

    producer = None if to_stdout or not tables else CountsProducer(settings)
    send = emit if producer is None else producer.send

    def change_tables(counter: ChangeTableCounter) -> Callable[[], None]:
        def run() -> None:
            while True:
                send(counter.count(now_ms(SYSTEM_CLOCK)))
                if once or stop.wait(every_s):
                    return

        return run

    threads = []
    for config in tables:
        password = config.password(settings)
        counter = ChangeTableCounter(
            config,
            functools.partial(odbc_connect, config, password),
            server_time_zone=server_time_zone,
            lookback_minutes=lookback_minutes,
        )
        click.echo(f"debezium counts: {config.name} (change tables) → ops.source_counts", err=True)
        threads.append(threading.Thread(target=guarded(change_tables(counter))))
    for config in logs:
        # Debezium's snapshot reads are not in the log: counted from its change topics
        reads = None
        if snapshot_mode(config) not in NO_DATA_MODES:
            reads = SnapshotReads.from_bootstrap(settings.kafka_bootstrap, config)
        log_counter = LogCounter(settings, config, snapshot=reads)
        click.echo(f"debezium counts: {config.name} → ops.source_counts", err=True)
        threads.append(
            threading.Thread(
                target=guarded(functools.partial(log_counter.run, stop)),
                name=f"counts-{config.name}",
            )
        )
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(0.5)
    if errors:
        raise errors[0]
