"""The contract every engine implements: read the log, read snapshot chunks, check setup.

``LogReader`` guarantees: events come in log order; a ``TransactionEnd`` follows
the last row event of each transaction; ``start(resume)`` re-reads everything
after ``resume`` (at-least-once); ``confirm(resume)`` is only ever called with a
position whose events Kafka has acknowledged, and may let the source discard
the log before it. ``close()`` may not be called after a crash.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.model import Chunk, Event, SourceHead, TableInfo


@dataclass(frozen=True)
class CheckResult:
    """One pre-flight check: what was checked, whether it holds, and how to fix it if not."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    severity: Literal["error", "warning"] = "error"


class LogReader(ABC):
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
    def close(self) -> None: ...


class SnapshotReader(ABC):
    """Reads tables by primary-key chunks on an ordinary connection, without locks."""

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
    def count(self, table: TableInfo) -> int: ...

    @abstractmethod
    def close(self) -> None: ...


def check_source(config: ConnectorConfig, password: str) -> list[CheckResult]:
    """Pre-flight checks for the connector's engine."""
    if config.engine == "postgresql":
        from streamhub.capture.postgres.preflight import check

        return check(config, password)
    from streamhub.capture.mysql.preflight import check

    return check(config, password)


def open_readers(config: ConnectorConfig, password: str) -> tuple[LogReader, SnapshotReader]:
    if config.engine == "postgresql":
        from streamhub.capture.postgres.log_reader import PostgresLogReader
        from streamhub.capture.postgres.snapshot_reader import PostgresSnapshotReader

        return PostgresLogReader(config, password), PostgresSnapshotReader(config, password)
    from streamhub.capture.mysql.log_reader import MySQLLogReader
    from streamhub.capture.mysql.snapshot_reader import MySQLSnapshotReader

    return MySQLLogReader(config, password), MySQLSnapshotReader(config, password)
