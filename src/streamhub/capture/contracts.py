"""What every capture engine implements, and what the connector task may rely on.

An engine (``postgres/``, ``mysql/``) provides a :class:`CaptureEngine`: pre-flight
checks, a :class:`LogReader` and a :class:`SnapshotReader`. The registry in
:mod:`streamhub.capture.source` chooses one by the connector's ``engine`` name. This
module imports no engine, so engines and the registry both import it without a loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal, Protocol

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.model import Chunk, Event, SourceHead, TableInfo
from streamhub.core.clock import Clock


@dataclass(frozen=True)
class CheckResult:
    """One pre-flight check: what was checked, whether it holds, and how to fix it if not."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    severity: Literal["error", "warning"] = "error"


class LogReader(ABC):
    """Reads the source's change log (WAL, binlog) as model events.

    Guarantees:

    - events come in log order, and ``position_seq`` grows with the log (within a
      MariaDB GTID domain);
    - a ``TransactionEnd`` follows the last row event of each transaction; its
      ``resume`` restarts the log just after that transaction;
    - ``start(resume)`` re-reads everything after ``resume``: delivery is
      at-least-once, a restart may repeat what was read but never skips;
    - ``confirm(resume)`` is only ever called with a position whose events Kafka has
      acknowledged, and may let the source discard the log before it;
    - a source failure is raised from ``start``/``read``/``head`` as a
      :class:`~streamhub.capture.errors.CaptureError` subclass
      (``SourceUnavailableError``, ``PositionLostError``, ``PreflightError``) with its
      cause chained, never as the driver's own exception;
    - ``close()`` releases connections but may not be called after a crash: nothing
      that must survive (slot, position) depends on it.
    """

    def __init__(self, config: ConnectorConfig, password: str) -> None:
        self.config = config
        self.password = password

    @abstractmethod
    def start(self, resume: str | None) -> str:
        """Stream from just after ``resume``, or from the log's current end when None.

        Creates what the engine needs on first use (PostgreSQL: publication and
        slot). Returns the position streaming starts from.
        """

    @abstractmethod
    def read(self, max_events: int, timeout_s: float) -> list[Event]:
        """Up to ``max_events`` events; an empty list after ``timeout_s`` of silence."""

    @abstractmethod
    def confirm(self, resume: str) -> None:
        """Everything up to ``resume`` is in Kafka; the source may release that log."""

    @abstractmethod
    def head(self) -> SourceHead:
        """The source log's current end, for lag."""

    @abstractmethod
    def close(self) -> None:
        """Release connections and threads; safe to call more than once."""


class SnapshotReader(ABC):
    """Reads tables by primary-key chunks on an ordinary connection, without locks.

    Guarantees: rows are decoded exactly as the log reader decodes them, so a row read
    either way compares equal; a value the connector's encoding cannot decode is None
    in its row and listed in ``Chunk.undecodable``; opening the reader connects
    nothing (connections are made on first use); source failures are raised as
    :class:`~streamhub.capture.errors.CaptureError` subclasses.
    """

    def __init__(self, config: ConnectorConfig, password: str) -> None:
        self.config = config
        self.password = password

    @abstractmethod
    def tables(self) -> list[TableInfo]:
        """The connector's tables as they are now (columns, kinds, key)."""

    @abstractmethod
    def chunk(self, table: TableInfo, after: tuple[object, ...] | None, rows: int) -> Chunk:
        """Up to ``rows`` rows with key > ``after`` (all when None), ordered by key."""

    @abstractmethod
    def rows_by_key(self, table: TableInfo, keys: list[tuple[object, ...]]) -> Chunk:
        """The rows of ``keys`` that exist (any order; absent keys are simply not there).

        Keys follow ``table.key_columns`` order, with values as ``chunk`` returns them.
        Read like a chunk: same columns, same decoding, undecodable values listed.
        """

    @abstractmethod
    def watermark(self, kind: Literal["low", "high"], chunk_id: str) -> None:
        """Write a watermark into the source log; the LogReader yields it as ``Watermark``."""

    @abstractmethod
    def count(self, table: TableInfo) -> int:
        """The table's row count now (an exact ``COUNT(*)``)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection; safe to call more than once."""


class CaptureEngine(Protocol):
    """One database engine's capture, registered by name in :mod:`streamhub.capture.source`."""

    def check(self, config: ConnectorConfig, password: str) -> list[CheckResult]:
        """Pre-flight checks of the source; a source problem is a failed check, not a raise."""
        ...

    def log_reader(self, config: ConnectorConfig, password: str, clock: Clock) -> LogReader:
        """A log reader that connects nothing until ``start``; ``clock`` times its waits."""
        ...

    def snapshot_reader(self, config: ConnectorConfig, password: str) -> SnapshotReader:
        """A snapshot reader that connects nothing until first used."""
        ...
