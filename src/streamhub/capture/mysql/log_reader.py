"""MariaDB/MySQL binlog → model events, with pymysqlreplication in a daemon thread.

Threading: ``BinLogStreamReader`` is synchronous and blocks on its socket, so one daemon thread
owns it (and its connections), turns each binlog event into model events (``BinlogTranslator``
in ``translator``) and puts them on a bounded queue; when the agent falls behind, the thread
waits on the queue instead of buffering the binlog in memory. ``read`` drains the queue. An
exception in the thread is queued after the events that preceded it and raised by ``read`` as
``SourceUnavailableError`` (``PositionLostError`` when the server no longer has the requested
GTIDs), chained to its cause. The server sends a heartbeat every second while idle, so the
thread notices ``close``.

Positions are GTIDs (``gtid``); how a binlog event becomes rows, and why text arrives
latin-1-carried, is in ``translator``; table look-ups the thread makes are in ``catalog``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.connections import Connection
from pymysql.cursors import Cursor
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import (
    GtidEvent,
    HeartbeatLogEvent,
    MariadbGtidEvent,
    QueryEvent,
    RotateEvent,
    XidEvent,
)
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    TableMapEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import LogReader
from streamhub.capture.errors import CaptureError, PositionLostError, SourceUnavailableError
from streamhub.capture.model import Event, SourceHead
from streamhub.capture.mysql.catalog import StreamCatalog
from streamhub.capture.mysql.connection import connect, fetch_one
from streamhub.capture.mysql.gtid import head_seq
from streamhub.capture.mysql.translator import BinlogTranslator
from streamhub.capture.mysql.watermarks import WATERMARK_SCHEMA, WATERMARK_TABLE
from streamhub.core.clock import SYSTEM_CLOCK, Clock

_START_TIMEOUT_S = 15.0
_HEARTBEAT_S = 1.0
_ER_MASTER_FATAL_READING_BINLOG = 1236  # GTID purged, or not in this server's binlog
_EVENTS = [
    MariadbGtidEvent,
    GtidEvent,
    QueryEvent,
    XidEvent,
    TableMapEvent,
    WriteRowsEvent,
    UpdateRowsEvent,
    DeleteRowsEvent,
    RotateEvent,
    HeartbeatLogEvent,
]


@dataclass
class _Failed:
    error: BaseException


_Item = tuple[list[Event], tuple[str, int] | None] | _Failed


class MySQLLogReader(LogReader):
    """Streams the binlog of a MariaDB (GTID) or MySQL (GTID) server; see the module docstring."""

    def __init__(
        self,
        config: ConnectorConfig,
        password: str,
        *,
        clock: Clock = SYSTEM_CLOCK,
        queue_size: int = 1024,
    ) -> None:
        super().__init__(config, password)
        self.confirmed: str | None = None  # kept for operators; the agent stores positions
        self._mariadb = config.engine == "mariadb"
        self._clock = clock
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=queue_size)
        self._pending: deque[Event] = deque()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._failed: CaptureError | None = None
        self._start: str | None = None
        self._scanned: tuple[str, int] | None = None  # binlog file/pos the thread has read
        self._delivered: tuple[str, int] | None = None  # ... and of the last batch read()
        self._head_conn: Connection[Cursor] | None = None
        self._catalog = StreamCatalog(config, password)

    def start(self, resume: str | None) -> str:
        if self._thread is not None:
            raise CaptureError(f"connector {self.config.name}: the log reader is already started")
        position = resume if resume is not None else self._server_position()
        try:
            translator = BinlogTranslator(
                self.config, position, self._catalog.describe, self._clock
            )
        except ValueError as exc:
            raise CaptureError(
                f"connector {self.config.name}: stored position {position!r} is not a "
                f"{self.config.engine} GTID position ({exc}); reset the connector's position"
            ) from exc
        self._start = position
        self._thread = threading.Thread(
            target=self._run,
            args=(translator, position),
            name=f"streamhub-binlog-{self.config.name}",
            daemon=True,
        )
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S):
            self._stop.set()
            raise SourceUnavailableError(
                f"{self._where()}: no binlog stream after {_START_TIMEOUT_S:.0f} s"
            )
        if self._failure is not None:
            self._failed = self._surface(self._failure)
            raise self._failed
        return position

    def _run(self, translator: BinlogTranslator, position: str) -> None:
        stream: Any = None
        try:
            stream = BinLogStreamReader(**self._stream_settings(position))
            for event in stream:
                self._ready.set()
                self._scanned = (stream.log_file, stream.log_pos)
                if self._stop.is_set():
                    return
                events = translator.translate(event)
                # the library reconnects by itself on a lost connection: from the last commit
                stream.auto_position = translator.position.resume
                if events:
                    self._put((events, self._scanned))
            if not self._stop.is_set():
                raise SourceUnavailableError("the server ended the binlog stream")
        except Exception as exc:
            self._failure = exc
            self._put(_Failed(exc))
        finally:
            self._ready.set()
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()
            self._catalog.close()

    def _stream_settings(self, position: str) -> dict[str, Any]:
        conn = self.config.connection
        assert self.config.mysql is not None  # the connector's validator requires it
        return {
            "connection_settings": {
                "host": conn.host,
                "port": conn.port,
                "user": conn.user,
                "password": self.password,
                "connect_timeout": 10,
                "read_timeout": 30 * _HEARTBEAT_S,  # a silent socket is dead: reconnect
            },
            "server_id": self.config.mysql.server_id,
            "blocking": True,
            "is_mariadb": self._mariadb,
            "auto_position": position,
            "only_schemas": [conn.database, WATERMARK_SCHEMA],
            "only_tables": [*self.config.tables, WATERMARK_TABLE],
            "only_events": _EVENTS,
            "slave_heartbeat": _HEARTBEAT_S,
            "enable_logging": False,
        }

    def _put(self, item: _Item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def read(self, max_events: int, timeout_s: float) -> list[Event]:
        if self._thread is None:
            raise CaptureError(f"connector {self.config.name}: read() before start()")
        if self._failed is not None:
            raise self._failed
        out: list[Event] = []
        deadline = self._clock.monotonic() + timeout_s
        while len(out) < max_events:
            if self._pending:
                out.append(self._pending.popleft())
                continue
            wait = 0.0 if out else deadline - self._clock.monotonic()
            try:
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                if not out and not self._thread.is_alive() and not self._stop.is_set():
                    raise SourceUnavailableError(
                        f"{self._where()}: the binlog thread stopped"
                    ) from None
                break
            if isinstance(item, _Failed):
                self._failed = self._surface(item.error)
                if out:
                    break  # hand over what came before; the next read raises
                raise self._failed
            events, self._delivered = item
            self._pending.extend(events)
        return out

    def _surface(self, exc: BaseException) -> CaptureError:
        code = exc.args[0] if isinstance(exc, pymysql.MySQLError) and exc.args else None
        error: CaptureError
        if code == _ER_MASTER_FATAL_READING_BINLOG:
            error = PositionLostError(
                f"{self._where()}: the server cannot stream from {self._start!r}: {exc}. "
                "The binlog holding it was purged (raise expire_logs_days) or the position is "
                "from another server: reset the connector's position and snapshot again"
            )
        else:
            error = SourceUnavailableError(f"{self._where()} failed: {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return error

    def _where(self) -> str:
        conn = self.config.connection
        return f"connector {self.config.name}: binlog of {conn.host}:{conn.port}"

    def confirm(self, resume: str) -> None:
        self.confirmed = resume  # MariaDB keeps no consumer position; Kafka holds ours

    def _server_position(self) -> str:
        variable = "gtid_binlog_pos" if self._mariadb else "gtid_executed"
        with contextlib.closing(connect(self.config, self.password)) as conn:
            try:
                with conn.cursor() as cur:
                    cur.execute(f"SELECT @@GLOBAL.{variable}")
                    (position,) = fetch_one(cur)
            except pymysql.MySQLError as exc:
                raise SourceUnavailableError(
                    f"{self._where()}: reading @@{variable}: {exc}"
                ) from exc
        return str(position or "").replace("\n", "")

    def head(self) -> SourceHead:
        variable = "gtid_binlog_pos" if self._mariadb else "gtid_executed"
        try:
            if self._head_conn is None:
                self._head_conn = connect(self.config, self.password)
            with self._head_conn.cursor() as cur:
                cur.execute(f"SELECT @@GLOBAL.{variable}")
                position = str(fetch_one(cur)[0] or "").replace("\n", "")
                cur.execute("SHOW BINARY LOGS")
                logs = [(str(r[0]), int(r[1])) for r in cur.fetchall()]
        except pymysql.MySQLError as exc:
            self._close_head()
            raise SourceUnavailableError(f"{self._where()}: reading the log head: {exc}") from exc
        seq = head_seq(position, self._mariadb)
        idle = not self._pending and self._queue.empty()
        at = self._scanned if idle else self._delivered
        return SourceHead((seq << 20) | 0xFFFFF, position, _bytes_behind(logs, at))

    def _close_head(self) -> None:
        if self._head_conn is not None:
            with contextlib.suppress(Exception):
                self._head_conn.close()
            self._head_conn = None

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5 * _HEARTBEAT_S)
        self._close_head()


def _bytes_behind(logs: list[tuple[str, int]], at: tuple[str, int] | None) -> int | None:
    """Binlog bytes after ``at`` (file, pos), from SHOW BINARY LOGS; None when unknown."""
    names = [name for name, _ in logs]
    if at is None or at[0] not in names:
        return None
    index = names.index(at[0])
    return max(0, logs[index][1] - at[1]) + sum(size for _, size in logs[index + 1 :])
