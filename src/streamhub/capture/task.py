"""One connector's capture loop: log → envelopes → Kafka, position stored after the acks.

The loop reads the source log, emits each change, and at transaction boundaries
takes a checkpoint (resume position, snapshot progress, open count windows).
A checkpoint is stored in the positions topic, and the source told it may
release its log, only once Kafka acknowledged every message sent before it.
A crash anywhere therefore re-reads from the last stored checkpoint: changes may
repeat, identical, but none is missing.

Snapshot chunks and re-reads (:mod:`~streamhub.capture.snapshot_windows`), row-count
probes (:mod:`~streamhub.capture.row_count_probe`), the answers to requests
(:mod:`~streamhub.capture.replies`) and the ops records and dead letters
(:mod:`~streamhub.capture.ops_records`) live in their own modules; the task drives them.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import LogReader, SnapshotReader
from streamhub.capture.counts import SourceCounts
from streamhub.capture.delivery import AckTracker
from streamhub.capture.emitter import Emitter
from streamhub.capture.errors import UnrepresentableChangeError
from streamhub.capture.metrics import CaptureMetrics, capture_metrics
from streamhub.capture.model import (
    Event,
    Op,
    RowEvent,
    TableInfo,
    TransactionEnd,
    UndecodableValue,
    Watermark,
)
from streamhub.capture.ops_records import OpsRecords
from streamhub.capture.positions import PositionStore
from streamhub.capture.replies import Replies
from streamhub.capture.row_count_probe import RowCountProbe
from streamhub.capture.signals import SignalListener
from streamhub.capture.snapshot_windows import SnapshotWindows
from streamhub.capture.snapshotting import SnapshotPlan, table_id
from streamhub.capture.source import open_readers
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.log import get_logger

log = get_logger(__name__)
CHECKPOINT_EVERY_S = 0.2
READ_BATCH = 2000
_startup_heap = threading.Lock()
_startup_heap_frozen = False


def freeze_startup_heap() -> None:
    """Once per process, when the first connector starts: what exists then (modules, settings,
    schemas, clients) lives as long as the process, so ``gc.freeze()`` takes it out of the
    cyclic collector's full passes. Those otherwise walk it every few thousand changes (the
    acknowledgement callbacks in flight survive into the oldest generation), tens of
    milliseconds each: about 10 % of the CPU per change, and a latency spike every time."""
    global _startup_heap_frozen
    with _startup_heap:
        if not _startup_heap_frozen:
            _startup_heap_frozen = True
            gc.collect()
            gc.freeze()


@dataclass(frozen=True)
class Connections:
    """How a task opens what it talks to: its positions, its source's readers, its producer
    and its signal topic. Production uses these defaults; unit tests hand in fakes."""

    positions: Callable[[Settings, Clock], PositionStore] = PositionStore
    readers: Callable[[ConnectorConfig, str, Clock], tuple[LogReader, SnapshotReader]] = (
        open_readers
    )
    emitter: Callable[[Settings, ConnectorConfig, AckTracker, Clock], Emitter] = Emitter
    signals: Callable[[Settings, str, Clock], SignalListener] = SignalListener


class ConnectorTask:
    def __init__(
        self,
        settings: Settings,
        config: ConnectorConfig,
        stop: threading.Event,
        metrics: CaptureMetrics | None = None,
        clock: Clock = SYSTEM_CLOCK,
        connections: Connections = Connections(),
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.connections = connections
        self.config = config
        self.stop = stop
        self.metrics = metrics or capture_metrics()
        self.tracker = AckTracker()
        self.events_total = 0
        self.errors_total = 0
        self.last_event_ms: int | None = None
        self.state_name = "starting"
        self.stored: dict[str, Any] | None = None  # the last position the broker acknowledged
        self._saving: dict[str, Any] | None = None  # the position write in flight
        self._unsent: dict[str, Any] | None = None  # the newest safe position, not yet sent
        self.stopped_tables: dict[str, str] = {}
        self._at_boundary = True
        self._last_checkpoint = 0.0
        self._last_heartbeat = 0.0
        self._idle_since: int | None = None
        self._event_counters: dict[str, Any] = {}  # the metric's child per op, bound once
        self._op_counts: dict[Op, int] = {}  # events per op since the metric was last told
        self._labels = config.labels()

    # --- lifecycle -------------------------------------------------------------------

    def run(self) -> None:
        """Capture until ``stop`` is set; raises on failure (the agent restarts the task)."""
        self._start()
        try:
            while not self.stop.is_set():
                self._step()
        except Exception:
            self.state_name = "failed"
            self.errors_total += 1
            self.metrics.errors.labels(**self._labels).inc()
            raise
        finally:
            self._shutdown()

    def _start(self) -> None:
        freeze_startup_heap()
        config = self.config
        connect = self.connections
        self.positions = connect.positions(self.settings, self.clock)
        state = self.positions.load(config.name) or {}
        self.resume: str | None = state.get("resume")
        self.plan = SnapshotPlan(state.get("snapshot") or {})
        self.counts = SourceCounts(state.get("counts"))
        self.stopped_tables = dict(state.get("stopped") or {})
        password = config.password(self.settings)
        self.log_reader: LogReader
        self.snapshot_reader: SnapshotReader
        self.log_reader, self.snapshot_reader = connect.readers(config, password, self.clock)
        self.emitter = connect.emitter(self.settings, config, self.tracker, self.clock)
        self.ops = OpsRecords(self.emitter, config, self.clock)
        self.signals = connect.signals(self.settings, config.name, self.clock)
        self.replies = Replies(config, self.tracker, self.signals, self.metrics)
        self.probe = RowCountProbe(config, self.ops, self.clock)
        started = self.log_reader.start(self.resume)
        self.tables = {table_id(t): t for t in self.snapshot_reader.tables()}
        self.windows = SnapshotWindows(
            config,
            self.snapshot_reader,
            self.plan,
            self.tables,
            self.stopped_tables,
            self.replies,
            self._emit_reads,
        )
        if self.resume is None and config.snapshot.mode == "initial":
            for name in self.tables:
                self.plan.request(name)
        self.resume = self.resume or started
        self.stored = self._state()
        self.positions.save(config.name, self.stored)  # even an empty start is a position
        self.state_name = "snapshotting" if self.plan.active else "streaming"
        log.info(
            "connector started",
            extra={**self._labels, "position": self.resume, "snapshot": self.plan.active},
        )

    def _shutdown(self) -> None:
        self._count_events()
        try:
            emitter = getattr(self, "emitter", None)
            if emitter is not None:
                if self._at_boundary and self.tracker.failure is None:
                    # provisional counts of the open minutes; a restart re-emits them in full
                    for window in self.counts.due(everything=True):
                        self.ops.counts(window)
                    self.tracker.checkpoint(self._state())
                emitter.flush(15)
                self._store_all(15)
                self.replies.answer_acknowledged()
        finally:
            for reader in ("log_reader", "snapshot_reader", "signals"):
                if hasattr(self, reader):
                    getattr(self, reader).close()

    # --- the loop ----------------------------------------------------------------------

    def _step(self) -> None:
        for request in self.signals.poll():
            if self.windows.request(request):
                self.state_name = "snapshotting"
        idle = not self.windows.is_open and not self.probe.is_open
        if idle and not self.windows.open_next() and self.probe.due():
            self.probe.open(self.snapshot_reader, self.tables)
        events = self.log_reader.read(READ_BATCH, 0.05 if self.windows.is_open else 0.2)
        for event in events:
            self._handle(event)
        self._count_events()
        self.emitter.poll()
        self.replies.answer_acknowledged()
        now = self.clock.monotonic()
        self._idle_since = None if events else (self._idle_since or now_ms(self.clock))
        if self._at_boundary and (not events or now - self._last_checkpoint >= CHECKPOINT_EVERY_S):
            self._last_checkpoint = now
            self._emit_counts()
            self.tracker.checkpoint(self._state())
        self._store_safe()
        if now - self._last_heartbeat >= self.config.heartbeat_s:
            self._last_heartbeat = now
            self._heartbeat()

    def _handle(self, event: Event) -> None:
        if isinstance(event, RowEvent):
            self._at_boundary = False
            self._row(event)
        elif isinstance(event, TransactionEnd):
            self.resume = event.resume
            self._at_boundary = True
        elif isinstance(event, UndecodableValue):
            self._undecodable(event)
        elif isinstance(event, Watermark):
            self._watermark(event)

    def _row(self, event: RowEvent) -> None:
        name = event.table.full_name
        if name not in self.tables:
            self.tables[name] = event.table
        self.windows.observe(event)
        self._emit_change(name, event)
        op = event.op
        # snapshot reads (r) count in the minute they were read: the time stamped on the
        # event, which downstream stages see as its commit time
        self.counts.add(name, op, event.commit_ts_ms)
        if op != "r":
            self.last_event_ms = event.commit_ts_ms
        self.events_total += 1
        self._op_counts[op] = self._op_counts.get(op, 0) + 1

    def _count_events(self) -> None:
        """Tell the events metric what was handled since it was last told (once a step, not
        once an event: its lock costs more than the count)."""
        for op, count in self._op_counts.items():
            counter = self._event_counters.get(op)
            if counter is None:
                counter = self._event_counters[op] = self.metrics.events.labels(
                    **self._labels, op=op
                )
            counter.inc(count)
        self._op_counts.clear()

    def _emit_change(self, name: str, event: RowEvent) -> None:
        if name not in self.stopped_tables:
            try:
                refused_before = self.emitter.oversized_total
                self.emitter.change(event)
                if self.emitter.oversized_total != refused_before:  # sent to dlq.capture
                    self._count_error()
                return
            except UnrepresentableChangeError as exc:
                self.stopped_tables[name] = str(exc)
                self._count_error()
                log.error(str(exc), extra={**self._labels, "table": name})
        self.ops.table_stopped(name, self.stopped_tables[name], event)

    def _undecodable(self, event: UndecodableValue) -> None:
        self._count_error()
        self.ops.undecodable(event)

    def _count_error(self) -> None:
        self.errors_total += 1
        self.metrics.errors.labels(**self._labels).inc()

    def _watermark(self, mark: Watermark) -> None:
        if self.probe.watermark(mark, self.resume):
            return
        finished_chunk = self.windows.watermark(mark)
        if finished_chunk and not self.plan.active and self.state_name == "snapshotting":
            self.state_name = "streaming"
            log.info("snapshot finished", extra=self._labels)

    def _emit_reads(
        self,
        table: TableInfo,
        rows: list[dict[str, object]],
        undecodable: list[UndecodableValue],
        mark: Watermark,
        *,
        last: bool,
    ) -> None:
        """Snapshot reads at the high mark's position (the newest version of each row); the
        final row of the whole snapshot is marked ``last``."""
        for bad in undecodable:
            bad.position, bad.position_seq = self.resume or "", mark.position_seq
            self._undecodable(bad)
        for index, row in enumerate(rows):
            final = last and index == len(rows) - 1
            self._row(
                RowEvent(
                    table=table,
                    op="r",
                    before=None,
                    after=row,
                    position=self.resume or "",
                    position_seq=mark.position_seq,
                    txid=None,
                    commit_ts_ms=now_ms(self.clock),
                    snapshot="last" if final else "true",
                )
            )
        self.metrics.snapshot_rows.labels(**self._labels).inc(len(rows))

    # --- positions, counts, heartbeat --------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "resume": self.resume,
            "snapshot": self.plan.state(),
            "counts": self.counts.state(),
            "stopped": dict(self.stopped_tables),
        }

    def _store_safe(self) -> None:
        """Send the newest checkpoint whose messages Kafka acknowledged to the positions topic,
        without waiting: one write in flight at a time, the newest safe state waiting behind
        it (an older one it supersedes is never sent). The source is told it may release its
        log only from :meth:`_position_saved`, once the write itself is acknowledged."""
        self.positions.poll()
        safe = self.tracker.safe()
        if safe is not None:
            self._unsent = safe
        self._send_position()

    def _send_position(self) -> None:
        state = self._unsent
        if state is None or self._saving is not None:
            return
        self._unsent = None
        if state == self.stored:
            return  # nothing moved since the last write (idle): no new write
        self._saving = state
        self.positions.send(self.config.name, state, self._position_saved)

    def _position_saved(self, state: dict[str, Any]) -> None:
        self._saving = None
        if state["resume"]:
            self.log_reader.confirm(state["resume"])
        self.stored = state
        self._send_position()

    def _store_all(self, timeout_s: float) -> None:
        """On shutdown: store the newest safe checkpoint and wait until it is acknowledged."""
        deadline = self.clock.monotonic() + timeout_s
        self._store_safe()
        while self._saving is not None or self._unsent is not None:
            left = deadline - self.clock.monotonic()
            if left <= 0:
                break
            self.positions.flush(left)
            self._send_position()

    def _emit_counts(self) -> None:
        # idle means the log is read to its head: every minute that ended before now (minus
        # the grace) is complete, including the one the last events fell in
        for window in self.counts.due(now_ms(self.clock) if self._idle_since is not None else None):
            self.ops.counts(window)

    def _heartbeat(self) -> None:
        head = self.log_reader.head()
        lag_ms = None
        if self.last_event_ms is not None:
            behind = max(now_ms(self.clock) - self.last_event_ms, 0)
            lag_ms = 0 if self._idle_since is not None else behind
        self.ops.heartbeat(
            state=self.state_name,
            position=self.stored["resume"] if self.stored else None,
            head=head,
            lag_ms=lag_ms,
            last_event_ms=self.last_event_ms,
            events_total=self.events_total,
            errors_total=self.errors_total,
        )
        self.metrics.observe_lag(self._labels, head.bytes_behind, lag_ms)
        self.metrics.snapshot_active.labels(**self._labels).set(1 if self.plan.active else 0)
