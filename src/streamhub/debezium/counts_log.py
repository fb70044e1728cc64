"""Source counts of a PostgreSQL/MySQL source captured by Debezium, from the source's own log.

``streamhub debezium counts`` runs the capture agent's log reader for a Debezium connector
file in a counts-only mode: a replication slot and publication of its own (PostgreSQL:
``streamhub_counts_<name>``; MySQL/MariaDB: a binlog stream with the file's ``server_id`` +
1,000,000), every change counted per table and commit minute (``capture/counts.py``, as the
agent counts) and written to ``ops.source_counts``, no envelope emitted. So the reconciler
and the anomaly detector judge what Debezium delivered against the log itself, not against
Debezium's own output.

Exactly as the agent: the open and recently emitted windows are stored with the log position
in the capture positions topic (key ``<name>:counts``), after the windows due were
acknowledged by Kafka, and only then is the slot confirmed; a restart re-reads the log from
there and counts every change once. Cost: one more logical decoding of the tables' changes on
the source (the WAL read twice), no row values kept.

Debezium's snapshot reads are not in the log: :mod:`streamhub.debezium.counts_snapshot` counts
them from the connector's change topics (distinct reads per table and minute of their
``source.ts_ms``), and this counter writes those totals into the same minute records
(``snapshot_reads``), so one record per table and minute carries both, as the agent's do. Start
the counter before the connector: a change the log shows before Debezium's snapshot point is
also in the snapshot (see the decision record).
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import ConnectorConfig, MySQLSettings, PostgresSettings
from streamhub.capture.contracts import LogReader
from streamhub.capture.counts import SourceCounts, WindowCounts
from streamhub.capture.model import RowEvent, TransactionEnd
from streamhub.capture.ops_records import counts_value
from streamhub.capture.positions import PositionStore
from streamhub.capture.source import open_readers
from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.core.topic_names import SOURCE_COUNTS
from streamhub.debezium.counts_snapshot import SnapshotReads
from streamhub.debezium.errors import DebeziumError
from streamhub.log import get_logger
from streamhub.serde.avro_serde import AvroSerde, RegisteredWriter

log = get_logger(__name__)

SERVER_ID_OFFSET = 1_000_000  # the counter's MySQL replica id: the file's + this
READ_BATCH = 2_000
EMIT_EVERY_S = 1.0


class CountsError(DebeziumError):
    """The counter cannot run for this connector file (engine, delivery of its counts)."""


def counting_config(config: ConnectorConfig) -> ConnectorConfig:
    """The connector file as the counting log reader reads it: the agent's engine, a slot,
    publication or replica id of its own, no snapshot."""
    if config.engine not in ("postgresql", "mysql", "mariadb"):
        raise CountsError(
            f"{config.name}: {config.engine} is not counted from its log here "
            "(SQL Server: debezium/counts_sqlserver.py counts its change tables)"
        )
    name = "streamhub_counts_" + config.name.replace("-", "_")
    changes: dict[str, Any] = {"capture_engine": "streamhub", "debezium": None}
    if config.engine == "postgresql":
        changes["postgres"] = PostgresSettings(slot=name[:63], publication=name[:63])
    else:
        server_id = (config.mysql.server_id if config.mysql else 0) + SERVER_ID_OFFSET
        changes["mysql"] = MySQLSettings(server_id=server_id)
    return config.model_copy(update=changes)


def counts_record(
    config: ConnectorConfig, window: WindowCounts, now: int, snapshot_reads: int | None = None
) -> dict[str, Any]:
    """An ``ops.source_counts`` record of one minute, as the agent writes it (``snapshot_reads``:
    the minute's total of Debezium's snapshot reads, when counted)."""
    if snapshot_reads is not None:
        window = replace(window, snapshot_reads=snapshot_reads)
    return counts_value(config, window, now)


class LogCounter:
    """Counts one connector's source log into ``ops.source_counts`` until stopped."""

    def __init__(
        self,
        settings: Settings,
        config: ConnectorConfig,
        *,
        reader: LogReader | None = None,
        positions: PositionStore | None = None,
        clock: Clock = SYSTEM_CLOCK,
        snapshot: SnapshotReads | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.key = f"{config.name}:counts"
        counting = counting_config(config)
        if reader is None:
            reader, _ = open_readers(counting, config.password(settings), clock)
        self.reader = reader
        self.positions = positions or PositionStore(settings, clock)
        self.serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        self.writer: RegisteredWriter = self.serde.register(
            f"{SOURCE_COUNTS}-value",
            load_schema(settings.project_dir / "avro_schemas", "ops/source_counts.avsc"),
        )
        self.producer = Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 20,
            }
        )
        self.counts = SourceCounts()
        # Debezium's snapshot reads (None: snapshot.mode never, or a test's own log reader)
        self.snapshot = snapshot
        self.resume: str | None = None
        self.counted = 0  # changes counted since start
        self.emitted = 0  # window records acknowledged since start

    def start(self) -> str:
        state = self.positions.load(self.key) or {}
        self.counts = SourceCounts(state.get("counts"))
        started = self.reader.start(state.get("resume"))
        self.resume = state.get("resume") or started
        if self.snapshot is not None:
            self.snapshot.start()
        self._store()
        log.info("source counts from the log", extra={"connector": self.config.name, "at": started})
        return started

    def step(self) -> bool:
        """Read what the log has (up to a batch); False when it had nothing (idle: read to
        its head)."""
        counted = 0
        events = self.reader.read(READ_BATCH, 0.2)
        for event in events:
            if isinstance(event, RowEvent):
                if event.op != "r":
                    self.counts.add(event.table.full_name, event.op, event.commit_ts_ms)
                    counted += 1
            elif isinstance(event, TransactionEnd):
                self.resume = event.resume
        self.counted += counted
        if self.snapshot is not None:
            # a read's window is opened (or reopened) here; its total is set at emission
            for table, _minute, read_ms in self.snapshot.poll():
                self.counts.add(table, "r", read_ms)
        return bool(events)

    @property
    def snapshot_counted(self) -> int:
        """Debezium's snapshot reads counted (distinct) since start."""
        return 0 if self.snapshot is None else self.snapshot.counts.total

    def checkpoint(self, idle: bool, everything: bool = False) -> list[dict[str, Any]]:
        """Emit the windows due, wait for Kafka, store the position, confirm the slot."""
        if self.snapshot is not None and not self.snapshot.caught_up:
            return []  # a total read only partly again after a restart would shrink
        now = now_ms(self.clock)
        records = [
            counts_record(self.config, w, now, self._reads(w))
            for w in self.counts.due(now if idle else None, everything=everything)
        ]
        failures: list[str] = []
        for record in records:
            key = {
                "connector": record["connector"],
                "table": f"{record['database']}.{record['table']}",
                "window": record["window_start_ms"],
            }
            self.producer.produce(
                SOURCE_COUNTS,
                self.serde.encode(self.writer, record),
                json.dumps(key, sort_keys=True).encode(),
                on_delivery=lambda err, _m: failures.append(str(err)) if err else None,
            )
        if records and self.producer.flush(30) > 0:
            raise CountsError(f"{self.config.name}: source counts not acknowledged by Kafka")
        if failures:
            raise CountsError(f"{self.config.name}: source counts refused: {failures[0]}")
        self.emitted += len(records)
        self._store()
        return records

    def _reads(self, window: WindowCounts) -> int | None:
        if self.snapshot is None:
            return None
        return self.snapshot.reads(window.table, window.window_start_ms)

    def _store(self) -> None:
        self.positions.save(self.key, {"resume": self.resume, "counts": self.counts.state()})
        if self.resume:
            self.reader.confirm(self.resume)

    def run(self, stop: threading.Event) -> None:
        self.start()
        last = self.clock.monotonic()
        try:
            while not stop.is_set():
                idle = not self.step()
                if idle or self.clock.monotonic() - last >= EMIT_EVERY_S:
                    self.checkpoint(idle)
                    last = self.clock.monotonic()
            self.checkpoint(idle=False, everything=True)
        finally:
            self.reader.close()
            if self.snapshot is not None:
                self.snapshot.close()
