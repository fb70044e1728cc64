"""One simulated connector's output, through the capture agent's own writing code.

Each fleet connector has what a capture task has on its output side: an
:class:`~streamhub.capture.emitter.Emitter` (envelopes under the table's registered schema,
message keys, ops records; here on one producer and serde shared by the whole fleet),
:class:`~streamhub.capture.ops_records.OpsRecords` (heartbeats, per-minute source counts),
:class:`~streamhub.capture.counts.SourceCounts` (the per-table, per-minute windows) and an
:class:`~streamhub.capture.delivery.AckTracker` (a failed delivery is seen). What it lacks
is a database: its "log" is the changes the fleet hands it, numbered like a log would.

A stuck connector keeps heartbeating but holds every change (its lag grows); a silent one
neither heartbeats nor sends. Either sends what it holds, in order and with its original
commit times, when it moves again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from confluent_kafka import Producer

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.counts import SourceCounts
from streamhub.capture.delivery import AckTracker
from streamhub.capture.emitter import Emitter
from streamhub.capture.model import Op, RowEvent, SourceHead, TableInfo
from streamhub.capture.ops_records import OpsRecords
from streamhub.config import Settings
from streamhub.core.clock import Clock, now_ms
from streamhub.fleet.ledger import FleetLedger
from streamhub.serde.avro_serde import AvroSerde

BYTES_PER_CHANGE = 240  # what one change adds to a simulated log position (WAL/binlog bytes)


@dataclass(slots=True)
class Pending:
    """A change the source committed that the connector has not sent yet."""

    table: TableInfo
    op: Op
    before: dict[str, object] | None
    after: dict[str, object] | None
    commit_ms: int


class FleetConnector:
    def __init__(
        self,
        settings: Settings,
        config: ConnectorConfig,
        *,
        producer: Producer,
        serde: AvroSerde,
        clock: Clock,
        ledger: FleetLedger,
        server: int,
    ) -> None:
        self.config = config
        self.clock = clock
        self.ledger = ledger
        self.tracker = AckTracker()
        self.emitter = Emitter(
            settings, config, self.tracker, clock, producer=producer, serde=serde
        )
        self.ops = OpsRecords(self.emitter, config, clock)
        self.counts = SourceCounts()
        self.postgres = config.engine == "postgresql"
        self.server = server  # MariaDB server id in GTIDs
        self.transactions = 0  # source transactions committed
        self.log_bytes = 0  # source log head, in bytes
        self.sent_seq = 0  # position_seq of the last change sent
        self.sent_position: str | None = None
        self.events_total = 0
        self.last_event_ms: int | None = None
        self.held: deque[tuple[Pending, int, str, str]] = deque()
        self.stuck_until: float | None = None  # wall monotonic; inf: to the end
        self.silent_until: float | None = None

    # --- the source log ------------------------------------------------------------------

    def commit(self, changes: list[Pending]) -> None:
        """One source transaction: numbered like the engine's log, sent unless held."""
        self.transactions += 1
        txid = str(self.transactions)
        for index, change in enumerate(changes):
            self.log_bytes += BYTES_PER_CHANGE
            if self.postgres:
                seq = self.log_bytes
                position = f"{seq >> 32:X}/{seq & 0xFFFFFFFF:X}"
            else:
                seq = (self.transactions << 20) | index
                position = f"0-{self.server}-{self.transactions}"
            if self.held or self.holding:
                self.held.append((change, seq, position, txid))
            else:
                self._send(change, seq, position, txid)

    @property
    def holding(self) -> bool:
        return self.stuck_until is not None or self.silent_until is not None

    def _send(self, change: Pending, seq: int, position: str, txid: str) -> None:
        event = RowEvent(
            change.table,
            change.op,
            change.before,
            change.after,
            position,
            seq,
            txid,
            change.commit_ms,
        )
        self.emitter.change(event)
        self.counts.add(change.table.full_name, change.op, change.commit_ms)
        self.ledger.record(
            self.config.institution_id, change.table.full_name, change.op, change.commit_ms
        )
        self.events_total += 1
        self.sent_seq = seq
        self.sent_position = position
        self.last_event_ms = now_ms(self.clock)

    def release(self, wall: float) -> int:
        """Moves again once its stuck or silent spell ends; sends what it held."""
        if self.stuck_until is not None and wall >= self.stuck_until:
            self.stuck_until = None
        if self.silent_until is not None and wall >= self.silent_until:
            self.silent_until = None
        if self.holding:
            return 0
        sent = len(self.held)
        while self.held:
            self._send(*self.held.popleft())
        return sent

    # --- what the agent reports ------------------------------------------------------------

    def report(self) -> None:
        """Heartbeat and the minutes' counts that are due, as the capture task does."""
        if self.silent_until is not None:
            return
        now = now_ms(self.clock)
        for window in self.counts.due(now if not self.held else None):
            self.ops.counts(window)
        head_seq = self.log_bytes if self.postgres else self.transactions << 20
        head = SourceHead(
            position_seq=head_seq,
            position=self.sent_position or "",
            bytes_behind=len(self.held) * BYTES_PER_CHANGE,
        )
        if self.held:
            lag_ms: int | None = max(now - self.held[0][0].commit_ms, 0)
        else:
            lag_ms = None if self.last_event_ms is None else 0
        self.ops.heartbeat(
            state="streaming",
            position=self.sent_position,
            head=head,
            lag_ms=lag_ms,
            last_event_ms=self.last_event_ms,
            events_total=self.events_total,
            errors_total=0,
        )

    def finish(self) -> None:
        """The open minutes' counts, as the agent emits them on shutdown."""
        if self.silent_until is not None:
            return
        for window in self.counts.due(everything=True):
            self.ops.counts(window)
