"""One connector's capture loop: log → envelopes → Kafka, position stored after the acks.

The loop reads the source log, emits each change, and at transaction boundaries
takes a checkpoint (resume position, snapshot progress, open count windows).
A checkpoint is stored in the positions topic, and the source told it may
release its log, only once Kafka acknowledged every message sent before it.
A crash anywhere therefore re-reads from the last stored checkpoint: changes may
repeat, identical, but none is missing.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from typing import Any

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import LogReader, SnapshotReader
from streamhub.capture.counts import SourceCounts, WindowCounts
from streamhub.capture.delivery import AckTracker
from streamhub.capture.emitter import Emitter, now_ms
from streamhub.capture.envelope import row_key
from streamhub.capture.errors import (
    CaptureError,
    SourceUnavailableError,
    UnrepresentableChangeError,
)
from streamhub.capture.metrics import CaptureMetrics
from streamhub.capture.model import (
    Event,
    RowEvent,
    TableInfo,
    TransactionEnd,
    UndecodableValue,
    Watermark,
)
from streamhub.capture.positions import PositionStore
from streamhub.capture.resnapshot import (
    InvalidKeyError,
    KeyedReadWindow,
    coerce_key,
    resolve_table,
)
from streamhub.capture.signals import ReRead, SignalListener, SnapshotDone, SnapshotRequest
from streamhub.capture.snapshotting import ChunkWindow, SnapshotPlan, table_id
from streamhub.capture.source import open_readers
from streamhub.config import Settings
from streamhub.log import get_logger

log = get_logger(__name__)
CHECKPOINT_EVERY_S = 0.2
READ_BATCH = 2000


class ConnectorTask:
    def __init__(
        self,
        settings: Settings,
        config: ConnectorConfig,
        stop: threading.Event,
        metrics: CaptureMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.stop = stop
        self.metrics = metrics or CaptureMetrics.default()
        self.tracker = AckTracker()
        self.events_total = 0
        self.errors_total = 0
        self.last_event_ms: int | None = None
        self.state_name = "starting"
        self.stored: dict[str, Any] | None = None
        self.stopped_tables: dict[str, str] = {}
        self._window: ChunkWindow | None = None
        self._reread: KeyedReadWindow | None = None
        self._keyed: deque[SnapshotRequest] = deque()  # targeted re-reads waiting their turn
        self._table_requests: dict[str, list[str]] = {}  # whole-table request ids by table
        self._replies: list[tuple[int, SnapshotDone]] = []  # sent once Kafka acked through n
        self._count_probe: tuple[str, dict[str, int]] | None = None
        self._next_row_count = time.monotonic() + config.row_count_s
        self._at_boundary = True
        self._last_checkpoint = 0.0
        self._last_heartbeat = 0.0
        self._idle_since: int | None = None
        self._event_counters: dict[str, Any] = {}
        self._labels = {
            "connector": config.name,
            "institution": config.institution_id,
            "system": config.system,
        }

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
        config = self.config
        self.positions = PositionStore(self.settings)
        state = self.positions.load(config.name) or {}
        self.resume: str | None = state.get("resume")
        self.plan = SnapshotPlan(state.get("snapshot") or {})
        self.counts = SourceCounts(state.get("counts"))
        self.stopped_tables = dict(state.get("stopped") or {})
        password = config.password(self.settings)
        self.log_reader: LogReader
        self.snapshot_reader: SnapshotReader
        self.log_reader, self.snapshot_reader = open_readers(config, password)
        self.emitter = Emitter(self.settings, config, self.tracker)
        self.signals = SignalListener(self.settings, config.name)
        started = self.log_reader.start(self.resume)
        self.tables = {table_id(t): t for t in self.snapshot_reader.tables()}
        if self.resume is None and config.snapshot.mode == "initial":
            for name in self.tables:
                self.plan.request(name)
        self.resume = self.resume or started
        self.positions.save(config.name, self._state())  # even an empty start is a position
        self.state_name = "snapshotting" if self.plan.active else "streaming"
        log.info(
            "connector started",
            extra={**self._log_fields(), "position": self.resume, "snapshot": self.plan.active},
        )

    def _shutdown(self) -> None:
        try:
            emitter = getattr(self, "emitter", None)
            if emitter is not None:
                if self._at_boundary and self.tracker.failure is None:
                    # provisional counts of the open minutes; a restart re-emits them in full
                    for window in self.counts.due(everything=True):
                        self._counts_record(window)
                    self.tracker.checkpoint(self._state())
                emitter.flush(15)
                self._store_safe()
                self._answer_acknowledged()
        finally:
            for reader in ("log_reader", "snapshot_reader", "signals"):
                if hasattr(self, reader):
                    getattr(self, reader).close()

    # --- the loop ----------------------------------------------------------------------

    def _step(self) -> None:
        for request in self.signals.poll():
            if request.keys is None:
                self._request_snapshot(request)
            else:
                self._keyed.append(request)
        if self._window is None and self._count_probe is None and self._reread is None:
            table = self.plan.next_table(self.tables)
            if self._keyed:  # a few rows someone waits for go before the next chunk
                self._open_keyed_read(self._keyed.popleft())
            elif table is not None:
                self._open_chunk(table)
            elif time.monotonic() >= self._next_row_count:
                self._open_count_probe()
        windowed = self._window is not None or self._reread is not None
        events = self.log_reader.read(READ_BATCH, 0.05 if windowed else 0.2)
        for event in events:
            self._handle(event)
        self.emitter.poll()
        self._answer_acknowledged()
        now = time.monotonic()
        self._idle_since = None if events else (self._idle_since or now_ms())
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
        name = table_id(event.table)
        self.tables.setdefault(name, event.table)
        if self._window is not None:
            self._window.observe(event)
        if self._reread is not None:
            self._reread.observe(event)
        self._emit_change(name, event)
        if event.op == "r":  # snapshot reads count in the minute they were read: the time
            # stamped on the event, which downstream stages see as its commit time
            self.counts.add(name, "r", event.commit_ts_ms)
        else:
            self.counts.add(name, event.op, event.commit_ts_ms)
            self.last_event_ms = event.commit_ts_ms
        self.events_total += 1
        counter = self._event_counters.get(event.op)
        if counter is None:
            counter = self._event_counters[event.op] = self.metrics.events.labels(
                **self._labels, op=event.op
            )
        counter.inc()

    def _emit_change(self, name: str, event: RowEvent) -> None:
        if name not in self.stopped_tables:
            try:
                refused_before = self.emitter.oversized_total
                self.emitter.change(event)
                if self.emitter.oversized_total != refused_before:  # sent to dlq.capture
                    self.errors_total += 1
                    self.metrics.errors.labels(**self._labels).inc()
                return
            except UnrepresentableChangeError as exc:
                self.stopped_tables[name] = str(exc)
                self.errors_total += 1
                self.metrics.errors.labels(**self._labels).inc()
                log.error(str(exc), extra={**self._log_fields(), "table": name})
        self.emitter.dead_letter(
            reason=f"table stopped: {self.stopped_tables[name]}",
            error_type="UnrepresentableChange",
            table=name,
            key=None,
            raw=_event_json(event),
        )

    def _undecodable(self, event: UndecodableValue) -> None:
        self.errors_total += 1
        self.metrics.errors.labels(**self._labels).inc()
        key = json.dumps(row_key(event.table, event.key), sort_keys=True, ensure_ascii=False)
        self.emitter.dead_letter(
            reason=(
                f"column {event.column} of {table_id(event.table)} at {event.position}: "
                f"{event.reason}; the row was captured with this value null"
            ),
            error_type="UndecodableValue",
            table=table_id(event.table),
            key=key.encode(),
            raw=event.raw,
        )

    # --- snapshot chunks ----------------------------------------------------------------

    def _request_snapshot(self, request: SnapshotRequest) -> None:
        name = resolve_table(self.tables, request.table)
        if name is None:
            self._refuse(request, self._no_such_table(request.table))
            return
        self.plan.request(name)
        self.stopped_tables.pop(name, None)  # a fresh snapshot restarts a stopped table
        self.state_name = "snapshotting"
        if request.request_id:
            self._table_requests.setdefault(name, []).append(request.request_id)
        log.info(
            "table re-snapshot requested",
            extra={**self._log_fields(), "table": name, "request_id": request.request_id},
        )

    def _no_such_table(self, table: str) -> str:
        return (
            f"table {table!r} names no single table captured by {self.config.name} "
            f"(captured: {', '.join(sorted(self.tables))})"
        )

    # --- targeted re-snapshot (resnapshot.py) ---------------------------------------------

    def _open_keyed_read(self, request: SnapshotRequest) -> None:
        """Read the requested rows between two watermarks; a refused request is answered."""
        assert request.keys is not None
        name = resolve_table(self.tables, request.table)
        if name is None:
            self._refuse(request, self._no_such_table(request.table))
            return
        if name in self.stopped_tables:
            self._refuse(
                request,
                f"table {name} is stopped ({self.stopped_tables[name]}); "
                "re-snapshot the whole table instead",
            )
            return
        fresh = {table_id(t): t for t in self.snapshot_reader.tables()}
        table = fresh.get(name, self.tables[name])  # the current layout, as for chunks
        try:
            requested = {coerce_key(table, key): key for key in request.keys}
        except InvalidKeyError as exc:
            self._refuse(request, str(exc), name)
            return
        window = KeyedReadWindow(
            f"{self.config.name}:k{uuid.uuid4().hex[:11]}", request.request_id, table, requested
        )
        self.snapshot_reader.watermark("low", window.chunk_id)
        try:
            window.hold(self.snapshot_reader.rows_by_key(table, list(requested)))
        except SourceUnavailableError:
            raise  # the task restarts; the waiter times out and may ask again
        except CaptureError as exc:  # e.g. a key value the column's type refuses
            self._refuse(request, str(exc), name)
            return
        self.snapshot_reader.watermark("high", window.chunk_id)
        self._reread = window
        log.info(
            "targeted re-snapshot started",
            extra={
                **self._log_fields(),
                "table": name,
                "request_id": request.request_id,
                "keys": len(requested),
            },
        )

    def _emit_reads(
        self, table: TableInfo, rows: list[dict[str, object]],
        undecodable: list[UndecodableValue], mark: Watermark, *, last: bool,
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
                    commit_ts_ms=now_ms(),
                    snapshot="last" if final else "true",
                )
            )
        self.metrics.snapshot_rows.labels(**self._labels).inc(len(rows))

    def _finish_keyed_read(self, window: KeyedReadWindow, mark: Watermark) -> None:
        """At the high mark: emit the rows no logged change replaced, then answer after the acks."""
        self._reread = None
        outcome = window.finish()
        self._emit_reads(window.table, outcome.rows, outcome.undecodable, mark, last=False)
        read = [ReRead(row_key(window.table, row), mark.position_seq) for row in outcome.rows]
        read += [ReRead(key, seq) for key, seq in outcome.from_log]
        done = SnapshotDone(
            window.request_id,
            self.config.name,
            table_id(window.table),
            read,
            outcome.not_found,
            len(outcome.rows),
        )
        self._replies.append((self.tracker.sent, done))

    def _refuse(self, request: SnapshotRequest, reason: str, table: str | None = None) -> None:
        log.error(
            "re-snapshot request refused",
            extra={
                **self._log_fields(),
                "table": table or request.table,
                "request_id": request.request_id,
                "reason": reason,
            },
        )
        done = SnapshotDone(request.request_id, self.config.name, table or request.table)
        self.signals.reply(done, reason)
        self.metrics.resnapshots.labels(**self._labels, outcome="refused").inc()

    def _answer_acknowledged(self) -> None:
        """Answer requests whose envelopes Kafka has acknowledged (in request order)."""
        while self._replies and self.tracker.covers(self._replies[0][0]):
            _, done = self._replies.pop(0)
            self.signals.reply(done)
            self.metrics.resnapshots.labels(**self._labels, outcome="answered").inc()
            log.info(
                "targeted re-snapshot answered",
                extra={
                    **self._log_fields(),
                    "table": done.table,
                    "request_id": done.request_id,
                    "rows": done.rows,
                    "read": len(done.read),
                    "not_found": len(done.not_found),
                },
            )

    def _open_chunk(self, table: TableInfo) -> None:
        name = table_id(table)
        fresh = {table_id(t): t for t in self.snapshot_reader.tables()}
        table = fresh.get(name, table)  # the current layout: columns may have been added
        chunk_id = f"{self.config.name}:{uuid.uuid4().hex[:12]}"
        limit = self.config.snapshot.chunk_rows
        self.snapshot_reader.watermark("low", chunk_id)
        chunk = self.snapshot_reader.chunk(table, self.plan.after(name), limit)
        self.snapshot_reader.watermark("high", chunk_id)
        self._window = ChunkWindow.of(chunk_id, chunk, limit)

    def _open_count_probe(self) -> None:
        """Row counts of every table between two watermarks: a count at a known position."""
        self._next_row_count = time.monotonic() + self.config.row_count_s
        probe_id = f"{self.config.name}:n{uuid.uuid4().hex[:11]}"
        self.snapshot_reader.watermark("low", probe_id)
        counts = {name: self.snapshot_reader.count(t) for name, t in sorted(self.tables.items())}
        self.snapshot_reader.watermark("high", probe_id)
        self._count_probe = (probe_id, counts)

    def _row_counts(self, mark: Watermark) -> None:
        assert self._count_probe is not None
        _, counts = self._count_probe
        self._count_probe = None
        now = now_ms()
        minute = now - now % 60_000  # one reading: two could straddle a minute boundary
        for name, rows in counts.items():
            # the count is of a moment between the two marks; the position is the high
            # mark's: changes committed between the marks may or may not be in it
            self._counts_record(
                WindowCounts(name, minute, 0, 0, 0, 0), rows, f"{self.resume}@{mark.chunk_id}"
            )

    def _watermark(self, mark: Watermark) -> None:
        if self._count_probe is not None and mark.chunk_id == self._count_probe[0]:
            if mark.kind == "high":
                self._row_counts(mark)
            return
        reread = self._reread
        if reread is not None and mark.chunk_id == reread.chunk_id:
            if mark.kind == "low":
                reread.seen_low = True
            else:
                self._finish_keyed_read(reread, mark)
            return
        window = self._window
        if window is None or mark.chunk_id != window.chunk_id:
            return  # another connector's, or a chunk abandoned by a crash
        if mark.kind == "low":
            window.seen_low = True
            return
        rows = window.remaining()
        last = not window.full and not any(
            not p["done"] for n, p in self.plan.progress.items() if n != table_id(window.table)
        )
        self._emit_reads(window.table, rows, window.remaining_undecodable(), mark, last=last)
        self.plan.finished_chunk(window, len(rows))
        self._window = None
        name = table_id(window.table)
        if self.plan.progress[name]["done"]:  # whole-table requests are answered when it ends
            for request_id in self._table_requests.pop(name, []):
                rows_read = int(self.plan.progress[name]["rows"])
                done = SnapshotDone(request_id, self.config.name, name, rows=rows_read)
                self._replies.append((self.tracker.sent, done))
        if not self.plan.active and self.state_name == "snapshotting":
            self.state_name = "streaming"
            log.info("snapshot finished", extra=self._log_fields())

    # --- positions, counts, heartbeat --------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "resume": self.resume,
            "snapshot": self.plan.state(),
            "counts": self.counts.state(),
            "stopped": dict(self.stopped_tables),
        }

    def _store_safe(self) -> None:
        safe = self.tracker.safe()
        if safe is None:
            return
        self.positions.save(self.config.name, safe)
        if safe["resume"]:
            self.log_reader.confirm(safe["resume"])
        self.stored = safe

    def _emit_counts(self) -> None:
        # idle means the log is read to its head: every minute that ended before now (minus
        # the grace) is complete, including the one the last events fell in
        for window in self.counts.due(now_ms() if self._idle_since is not None else None):
            self._counts_record(window)

    def _counts_record(
        self, window: WindowCounts, row_count: int | None = None, at: str | None = None
    ) -> None:
        database, _, table = window.table.partition(".")
        key: dict[str, Any] = {"connector": self.config.name, "table": window.table}
        key |= {"window": window.window_start_ms} if at is None else {"row_count_at": at}
        self.emitter.ops(
            "ops.source_counts",
            key,
            {
                "connector": self.config.name,
                "institution_id": self.config.institution_id,
                "system": self.config.system,
                "database": database,
                "table": table,
                "window_start_ms": window.window_start_ms,
                "window_ms": 60_000,
                "inserts": window.inserts,
                "updates": window.updates,
                "deletes": window.deletes,
                "snapshot_reads": window.snapshot_reads,
                "row_count": row_count,
                "row_count_position": at,
                "emitted_ts_ms": now_ms(),
            },
        )

    def _heartbeat(self) -> None:
        head = self.log_reader.head()
        lag_ms = None
        if self.last_event_ms is not None:
            lag_ms = 0 if self._idle_since is not None else max(now_ms() - self.last_event_ms, 0)
        stored = self.stored["resume"] if self.stored else None
        self.emitter.ops(
            "ops.heartbeat",
            {"connector": self.config.name},
            {
                "connector": self.config.name,
                "institution_id": self.config.institution_id,
                "system": self.config.system,
                "engine": self.config.engine,
                "state": self.state_name,
                "position": stored,
                "lag_bytes": head.bytes_behind,
                "lag_ms": lag_ms,
                "last_event_ts_ms": self.last_event_ms,
                "events_total": self.events_total,
                "errors_total": self.errors_total,
                "emitted_ts_ms": now_ms(),
            },
        )
        self.metrics.observe_lag(self._labels, head.bytes_behind, lag_ms)
        self.metrics.snapshot_active.labels(**self._labels).set(1 if self.plan.active else 0)

    def _log_fields(self) -> dict[str, Any]:
        return {
            "connector": self.config.name,
            "institution": self.config.institution_id,
            "system": self.config.system,
        }


def _event_json(event: RowEvent) -> bytes:
    def plain(values: dict[str, object] | None) -> dict[str, object] | None:
        if values is None:
            return None
        return {
            k: v if isinstance(v, int | float | str | bool) or v is None else str(v)
            for k, v in values.items()
        }

    document = {
        "op": event.op,
        "table": table_id(event.table),
        "position": event.position,
        "before": plain(event.before),
        "after": plain(event.after),
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()
