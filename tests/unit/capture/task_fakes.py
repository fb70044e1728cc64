"""Fakes a ConnectorTask talks to instead of Kafka and a database, for unit tests.

The source is one scripted log: tests append events to it, and the snapshot reader's
watermarks land in it as a real engine's do (written into the source, read back by the
log reader). Kafka acknowledges nothing until the test says so.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Literal

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.delivery import AckTracker
from streamhub.capture.errors import UnrepresentableChangeError
from streamhub.capture.model import (
    Chunk,
    ColumnInfo,
    Event,
    RowEvent,
    SourceHead,
    TableInfo,
    TransactionEnd,
    Watermark,
)
from streamhub.capture.signals import SnapshotDone, SnapshotRequest
from streamhub.capture.snapshotting import key_of, table_id
from streamhub.capture.task import Connections, ConnectorTask
from streamhub.codes import credit_code
from streamhub.config import Settings
from streamhub.core.clock import Clock, ManualClock

INSTITUTION = credit_code.make("1", "2", "350203", "15498973")
TABLE = TableInfo(
    "his",
    "public",
    "patient",
    (ColumnInfo("id", "int8", "long", key=True), ColumnInfo("name", "text", "string")),
)
PASSWORD_ENV = "STREAMHUB_TEST_TASK_PASSWORD"


def connector(**overrides: Any) -> ConnectorConfig:
    document: dict[str, Any] = {
        "name": "xm-his",
        "institution_id": INSTITUTION,
        "system": "his",
        "engine": "postgresql",
        "connection": {"port": 5432, "database": "his", "user": "u", "password_env": PASSWORD_ENV},
        "tables": ["public.patient"],
        "profile": "p",
        "snapshot": {"mode": "never"},
        **overrides,
    }
    return ConnectorConfig.model_validate(document)


class Source:
    """One source database: its log (events not yet read) and its table's rows."""

    def __init__(self, rows: dict[int, str] | None = None) -> None:
        self.log: deque[Event] = deque()
        self.rows = dict(rows or {})
        self.seq = 100
        self.confirmed: list[str] = []
        self.watermarks: list[tuple[str, str]] = []

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def commit(self, op: Literal["c", "u", "d"], row_id: int, name: str, at_ms: int) -> str:
        """Append one committed single-row transaction to the log; returns its resume position."""
        before = {"id": row_id, "name": self.rows.get(row_id)} if op != "c" else None
        after = {"id": row_id, "name": name} if op != "d" else None
        if op == "d":
            self.rows.pop(row_id, None)
        else:
            self.rows[row_id] = name
        seq = self.next_seq()
        resume = f"0/{seq:X}"
        self.log.append(RowEvent(TABLE, op, before, after, resume, seq, str(seq), at_ms))
        self.log.append(TransactionEnd(resume, seq, at_ms))
        return resume


class FakeLogReader:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.started_from: str | None = None
        self.closed = False

    def start(self, resume: str | None) -> str:
        self.started_from = resume
        return "0/0"

    def read(self, max_events: int, _timeout_s: float) -> list[Event]:
        out: list[Event] = []
        while self.source.log and len(out) < max_events:
            out.append(self.source.log.popleft())
        return out

    def confirm(self, resume: str) -> None:
        self.source.confirmed.append(resume)

    def head(self) -> SourceHead:
        return SourceHead(self.source.seq, f"0/{self.source.seq:X}", bytes_behind=7)

    def close(self) -> None:
        self.closed = True


class FakeSnapshotReader:
    def __init__(self, source: Source) -> None:
        self.source = source

    def tables(self) -> list[TableInfo]:
        return [TABLE]

    def _chunk(self, ids: list[int]) -> Chunk:
        rows: list[dict[str, object]] = [{"id": i, "name": self.source.rows[i]} for i in ids]
        last = key_of(TABLE, rows[-1]) if rows else None
        return Chunk(TABLE, rows, last)

    def chunk(self, table: TableInfo, after: tuple[object, ...] | None, rows: int) -> Chunk:
        start = after[0] if after else None
        ids = sorted(i for i in self.source.rows if start is None or i > start)  # type: ignore[operator]
        return self._chunk(ids[:rows])

    def rows_by_key(self, table: TableInfo, keys: list[tuple[object, ...]]) -> Chunk:
        return self._chunk([k[0] for k in keys if k[0] in self.source.rows])  # type: ignore[misc]

    def watermark(self, kind: Literal["low", "high"], chunk_id: str) -> None:
        self.source.watermarks.append((kind, chunk_id))
        self.source.log.append(Watermark(kind, chunk_id, self.source.next_seq()))

    def count(self, table: TableInfo) -> int:
        return len(self.source.rows)

    def close(self) -> None:
        pass


class FakePositions:
    """The positions topic. A write sent without waiting is acknowledged at once, or, with
    ``hold_acks``, when the test calls :meth:`ack_writes` (then served by the next poll)."""

    def __init__(self, stored: dict[str, Any] | None = None) -> None:
        self.stored = stored
        self.saved: list[dict[str, Any]] = []  # acknowledged writes, in order
        self.sent: list[dict[str, Any]] = []  # every write sent, acknowledged or not
        self.hold_acks = False
        self.failure: str | None = None
        self._in_flight: list[tuple[dict[str, Any], Any]] = []
        self._acked: list[tuple[dict[str, Any], Any]] = []

    def load(self, _connector: str) -> dict[str, Any] | None:
        return self.stored

    def save(self, _connector: str, state: dict[str, Any]) -> None:
        self.sent.append(state)
        self.saved.append(state)

    def send(self, _connector: str, state: dict[str, Any], saved: Any) -> None:
        self.sent.append(state)
        if self.hold_acks:
            self._in_flight.append((state, saved))
        else:
            self.saved.append(state)
            saved(state)

    def ack_writes(self, error: str | None = None) -> None:
        """The broker acknowledges (or refuses) the writes in flight."""
        if error is not None:
            self.failure = error
        else:
            self._acked.extend(self._in_flight)
        self._in_flight = []

    def poll(self) -> None:
        from streamhub.capture.errors import PositionStoreError

        if self.failure is not None:
            raise PositionStoreError(self.failure)
        acked, self._acked = self._acked, []
        for state, saved in acked:
            self.saved.append(state)
            saved(state)

    def flush(self, _timeout_s: float) -> int:
        self.ack_writes()
        self.poll()
        return 0

    @property
    def resumes(self) -> list[str | None]:
        return [state["resume"] for state in self.saved]


class FakeEmitter:
    """Numbers what it is given like the real emitter; Kafka acknowledges on :meth:`ack`."""

    def __init__(self, tracker: AckTracker) -> None:
        self.tracker = tracker
        self.changes: list[RowEvent] = []
        self.ops_records: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self.letters: list[dict[str, Any]] = []
        self.oversized_total = 0
        self.unrepresentable: set[str] = set()  # tables whose schema change Avro cannot follow

    def change(self, event: RowEvent) -> None:
        if table_id(event.table) in self.unrepresentable:
            raise UnrepresentableChangeError(f"{table_id(event.table)} changed incompatibly")
        self.tracker.next_number()
        self.changes.append(event)

    def dead_letter(self, **letter: Any) -> None:
        self.tracker.next_number()
        self.letters.append(letter)

    def ops(self, topic: str, key: dict[str, Any], record: dict[str, Any]) -> None:
        self.tracker.next_number()
        self.ops_records.append((topic, key, record))

    def ack(self, error: str | None = None) -> None:
        """Kafka acknowledges every message sent so far (or fails them with ``error``)."""
        for number in range(1, self.tracker.sent + 1):
            self.tracker.acknowledged(number, error)

    def poll(self) -> None:
        pass

    def flush(self, _timeout_s: float) -> int:
        """Like a producer's flush: everything sent is delivered (acknowledged)."""
        self.ack()
        return self.tracker.pending

    def records(self, topic: str) -> list[dict[str, Any]]:
        return [record for t, _key, record in self.ops_records if t == topic]


class FakeSignals:
    def __init__(self) -> None:
        self.requests: list[SnapshotRequest] = []
        self.replies: list[tuple[SnapshotDone, str | None]] = []

    def poll(self) -> list[SnapshotRequest]:
        found, self.requests = self.requests, []
        return found

    def reply(self, done: SnapshotDone, error: str | None = None) -> None:
        self.replies.append((done, error))

    def close(self) -> None:
        pass


class Harness:
    """A started ConnectorTask on fakes, stepped by hand on a manual clock."""

    def __init__(
        self,
        config: ConnectorConfig | None = None,
        source: Source | None = None,
        stored: dict[str, Any] | None = None,
        start_ms: int = 1_767_225_630_000,  # 2026-01-01T00:00:30Z
        start: bool = True,
    ) -> None:
        from prometheus_client import CollectorRegistry

        from streamhub.capture.metrics import CaptureMetrics

        self.clock = ManualClock(start_ms / 1000)
        self.source = source or Source()
        self.positions = FakePositions(stored)
        self.signals = FakeSignals()
        self.emitter: FakeEmitter | None = None
        self.registry = CollectorRegistry()

        def emitter(_s: Settings, _c: ConnectorConfig, tracker: AckTracker, _k: Clock) -> Any:
            self.emitter = FakeEmitter(tracker)
            return self.emitter

        connections = Connections(
            positions=lambda _s, _k: self.positions,  # type: ignore[arg-type,return-value]
            readers=lambda _c, _p, _k: self._readers(),  # type: ignore[arg-type,return-value]
            emitter=emitter,
            signals=lambda _s, _n, _k: self.signals,  # type: ignore[arg-type,return-value]
        )
        self.task = ConnectorTask(
            Settings(),
            config or connector(),
            threading.Event(),
            metrics=CaptureMetrics.create(self.registry),
            clock=self.clock,
            connections=connections,
        )
        self.readers: tuple[FakeLogReader, FakeSnapshotReader] | None = None
        if start:
            self.task._start()

    def _readers(self) -> tuple[FakeLogReader, FakeSnapshotReader]:
        self.readers = (FakeLogReader(self.source), FakeSnapshotReader(self.source))
        return self.readers

    @property
    def sent(self) -> FakeEmitter:
        assert self.emitter is not None
        return self.emitter

    def step(self, times: int = 1) -> None:
        for _ in range(times):
            self.task._step()

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)
