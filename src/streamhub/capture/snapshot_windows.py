"""Snapshot chunks and targeted re-reads, each read between two watermarks of the log.

The task opens one window at a time: a keyed re-read someone waits for goes before the
next chunk of a table being snapshotted. The rows read are held while the log reader
moves between the window's low and high marks (a logged change to a held row wins over
the copy); at the high mark the task emits what is left as snapshot reads. Whole-table
requests are answered when their table's snapshot ends, keyed ones once Kafka has the
rows they re-read (:mod:`streamhub.capture.replies`).
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import Protocol

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import SnapshotReader
from streamhub.capture.envelope import row_key
from streamhub.capture.errors import CaptureError, InvalidKeyError, SourceUnavailableError
from streamhub.capture.model import RowEvent, TableInfo, UndecodableValue, Watermark
from streamhub.capture.replies import Replies
from streamhub.capture.resnapshot import KeyedReadWindow, coerce_key, resolve_table
from streamhub.capture.signals import ReRead, SnapshotDone, SnapshotRequest
from streamhub.capture.snapshotting import ChunkWindow, SnapshotPlan, table_id
from streamhub.log import get_logger

log = get_logger(__name__)


class EmitReads(Protocol):
    """Emits rows read at a high mark as snapshot reads (the task's row path)."""

    def __call__(
        self,
        table: TableInfo,
        rows: list[dict[str, object]],
        undecodable: list[UndecodableValue],
        mark: Watermark,
        *,
        last: bool,
    ) -> None: ...


class SnapshotWindows:
    def __init__(
        self,
        config: ConnectorConfig,
        reader: SnapshotReader,
        plan: SnapshotPlan,
        tables: dict[str, TableInfo],
        stopped_tables: dict[str, str],
        replies: Replies,
        emit_reads: EmitReads,
    ) -> None:
        self.config = config
        self.reader = reader
        self.plan = plan
        self.tables = tables  # shared with the task, which adds tables the log shows
        self.stopped_tables = stopped_tables  # shared with the task
        self.replies = replies
        self.emit_reads = emit_reads
        self.chunk: ChunkWindow | None = None
        self.reread: KeyedReadWindow | None = None
        self._keyed: deque[SnapshotRequest] = deque()  # targeted re-reads waiting their turn
        self._table_requests: dict[str, list[str]] = {}  # whole-table request ids by table

    @property
    def is_open(self) -> bool:
        return self.chunk is not None or self.reread is not None

    # --- requests ----------------------------------------------------------------------

    def request(self, request: SnapshotRequest) -> bool:
        """Take a request; True when a whole-table snapshot starts (the task is snapshotting)."""
        if request.keys is not None:
            self._keyed.append(request)
            return False
        name = resolve_table(self.tables, request.table)
        if name is None:
            self.replies.refuse(request, self._no_such_table(request.table))
            return False
        self.plan.request(name)
        self.stopped_tables.pop(name, None)  # a fresh snapshot restarts a stopped table
        if request.request_id:
            self._table_requests.setdefault(name, []).append(request.request_id)
        log.info(
            "table re-snapshot requested",
            extra={**self.config.labels(), "table": name, "request_id": request.request_id},
        )
        return True

    def _no_such_table(self, table: str) -> str:
        return (
            f"table {table!r} names no single table captured by {self.config.name} "
            f"(captured: {', '.join(sorted(self.tables))})"
        )

    def open_next(self) -> bool:
        """Open the next window (a waiting keyed re-read first, then a chunk); False when
        there is nothing to read."""
        table = self.plan.next_table(self.tables)
        if self._keyed:  # a few rows someone waits for go before the next chunk
            self._open_keyed_read(self._keyed.popleft())
            return True
        if table is not None:
            self._open_chunk(table)
            return True
        return False

    # --- opening -----------------------------------------------------------------------

    def _current(self, name: str, known: TableInfo) -> TableInfo:
        """The table's current layout: columns may have been added since it was first seen."""
        fresh = {table_id(t): t for t in self.reader.tables()}
        return fresh.get(name, known)

    def _open_chunk(self, table: TableInfo) -> None:
        name = table_id(table)
        table = self._current(name, table)
        chunk_id = f"{self.config.name}:{uuid.uuid4().hex[:12]}"
        limit = self.config.snapshot.chunk_rows
        self.reader.watermark("low", chunk_id)
        chunk = self.reader.chunk(table, self.plan.after(name), limit)
        self.reader.watermark("high", chunk_id)
        self.chunk = ChunkWindow.of(chunk_id, chunk, limit)

    def _open_keyed_read(self, request: SnapshotRequest) -> None:
        """Read the requested rows between two watermarks; a refused request is answered."""
        assert request.keys is not None
        name = resolve_table(self.tables, request.table)
        if name is None:
            self.replies.refuse(request, self._no_such_table(request.table))
            return
        if name in self.stopped_tables:
            self.replies.refuse(
                request,
                f"table {name} is stopped ({self.stopped_tables[name]}); "
                "re-snapshot the whole table instead",
            )
            return
        table = self._current(name, self.tables[name])
        try:
            requested = {coerce_key(table, key): key for key in request.keys}
        except InvalidKeyError as exc:
            self.replies.refuse(request, str(exc), name)
            return
        window = KeyedReadWindow(
            f"{self.config.name}:k{uuid.uuid4().hex[:11]}", request.request_id, table, requested
        )
        self.reader.watermark("low", window.chunk_id)
        try:
            window.hold(self.reader.rows_by_key(table, list(requested)))
        except SourceUnavailableError:
            raise  # the task restarts; the waiter times out and may ask again
        except CaptureError as exc:  # e.g. a key value the column's type refuses
            self.replies.refuse(request, str(exc), name)
            return
        self.reader.watermark("high", window.chunk_id)
        self.reread = window
        log.info(
            "targeted re-snapshot started",
            extra={
                **self.config.labels(),
                "table": name,
                "request_id": request.request_id,
                "keys": len(requested),
            },
        )

    # --- the log passing through -----------------------------------------------------------

    def observe(self, event: RowEvent) -> None:
        if self.chunk is not None:
            self.chunk.observe(event)
        if self.reread is not None:
            self.reread.observe(event)

    def watermark(self, mark: Watermark) -> bool:
        """Handle a mark of an open window; True when it finished a chunk."""
        reread = self.reread
        if reread is not None and mark.chunk_id == reread.chunk_id:
            if mark.kind == "low":
                reread.seen_low = True
            else:
                self._finish_keyed_read(reread, mark)
            return False
        window = self.chunk
        if window is None or mark.chunk_id != window.chunk_id:
            return False  # another connector's, or a chunk abandoned by a crash
        if mark.kind == "low":
            window.seen_low = True
            return False
        self._finish_chunk(window, mark)
        return True

    def _finish_keyed_read(self, window: KeyedReadWindow, mark: Watermark) -> None:
        """At the high mark: emit the rows no logged change replaced, then answer after the acks."""
        self.reread = None
        outcome = window.finish()
        self.emit_reads(window.table, outcome.rows, outcome.undecodable, mark, last=False)
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
        self.replies.after_acks(done)

    def _finish_chunk(self, window: ChunkWindow, mark: Watermark) -> None:
        """At the high mark: emit the chunk's rows no logged change replaced; the very last
        row of the whole snapshot is marked ``last``."""
        rows = window.remaining()
        last = not window.full and not any(
            not p["done"] for n, p in self.plan.progress.items() if n != table_id(window.table)
        )
        self.emit_reads(window.table, rows, window.remaining_undecodable(), mark, last=last)
        self.plan.finished_chunk(window, len(rows))
        self.chunk = None
        name = table_id(window.table)
        if self.plan.progress[name]["done"]:  # whole-table requests are answered when it ends
            for request_id in self._table_requests.pop(name, []):
                rows_read = int(self.plan.progress[name]["rows"])
                done = SnapshotDone(request_id, self.config.name, name, rows=rows_read)
                self.replies.after_acks(done)
