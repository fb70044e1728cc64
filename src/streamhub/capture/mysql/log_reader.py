"""MariaDB/MySQL binlog → model events for one connector, from its server's shared stream.

The binlog itself is read by a ``ServerStream`` (``server_stream``): one thread and one
``BinLogStreamReader`` per server in the agent, whose connectors all subscribe to it. This
reader is one connector's subscription: ``start`` joins the stream with the connector's own
``BinlogTranslator`` (``translator``) and position, ``read`` drains the subscription's bounded
buffer. A failure of the stream, or of this connector's translation, is raised by ``read`` as
``SourceUnavailableError`` (``PositionLostError`` when the server no longer has the requested
GTIDs), after the events that preceded it, chained to its cause. The server sends a heartbeat
every second while idle, so the stream notices a connector that left.

Positions are GTIDs (``gtid``); how a binlog event becomes rows, and why text arrives
latin-1-carried, is in ``translator``; table look-ups are in ``catalog``.
"""

from __future__ import annotations

import contextlib

import pymysql
from pymysql.connections import Connection
from pymysql.cursors import Cursor

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import LogReader
from streamhub.capture.errors import CaptureError, PositionLostError, SourceUnavailableError
from streamhub.capture.model import Event, SourceHead
from streamhub.capture.mysql.catalog import StreamCatalog
from streamhub.capture.mysql.connection import connect, fetch_one
from streamhub.capture.mysql.gtid import head_seq
from streamhub.capture.mysql.server_stream import (
    ER_MASTER_FATAL_READING_BINLOG,
    STREAMS,
    ServerAddress,
    ServerStreams,
    StreamLogin,
    Subscription,
)
from streamhub.capture.mysql.translator import BinlogTranslator, split_resume
from streamhub.core.clock import SYSTEM_CLOCK, Clock

_START_TIMEOUT_S = 15.0


class MySQLLogReader(LogReader):
    """One connector's share of its server's binlog stream; see the module docstring."""

    def __init__(
        self,
        config: ConnectorConfig,
        password: str,
        *,
        clock: Clock = SYSTEM_CLOCK,
        buffer_events: int = 8192,
        streams: ServerStreams = STREAMS,
    ) -> None:
        super().__init__(config, password)
        self.confirmed: str | None = None  # kept for operators; the agent stores positions
        self._mariadb = config.engine == "mariadb"
        self._clock = clock
        self._buffer_events = buffer_events
        self._streams = streams
        conn = config.connection
        self._address = ServerAddress(conn.host, conn.port, conn.user, self._mariadb)
        self._sub: Subscription | None = None
        self._failed: CaptureError | None = None
        self._start: str | None = None
        self._delivered: tuple[str, int] | None = None  # binlog file/pos of the last read()
        self._head_conn: Connection[Cursor] | None = None
        self._catalog = StreamCatalog(config, password)

    def start(self, resume: str | None) -> str:
        if self._sub is not None:
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
        assert self.config.mysql is not None  # the connector's validator requires it
        committed, _ = split_resume(position)  # the stream starts before the transaction
        sub = Subscription(self.config.name, translator, committed, self._buffer_events)
        self._sub = sub
        login = StreamLogin(self.password, self.config.mysql.server_id)
        self._streams.subscribe(self._address, login, sub)
        if not sub.ready.wait(_START_TIMEOUT_S):
            sub.closed = True
            raise SourceUnavailableError(
                f"{self._where()}: no binlog stream after {_START_TIMEOUT_S:.0f} s"
            )
        if sub.failure is not None:
            self._failed = self._surface(sub.failure)
            raise self._failed
        return position

    def read(self, max_events: int, timeout_s: float) -> list[Event]:
        sub = self._sub
        if sub is None:
            raise CaptureError(f"connector {self.config.name}: read() before start()")
        if self._failed is not None:
            raise self._failed
        out, tag = sub.buffer.get(max_events, timeout_s)
        if tag is not None:
            self._delivered = tag
        if not out and sub.failure is not None and sub.buffer.empty:
            self._failed = self._surface(sub.failure)
            raise self._failed
        return out

    def _surface(self, exc: BaseException) -> CaptureError:
        code = exc.args[0] if isinstance(exc, pymysql.MySQLError) and exc.args else None
        error: CaptureError
        if code == ER_MASTER_FATAL_READING_BINLOG:
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
        at = self._delivered
        stream = self._streams.stream_of(self._address)
        if self._sub is not None and self._sub.buffer.empty and stream is not None:
            at = stream.scanned or at  # idle: read up to where the stream is
        return SourceHead((seq << 20) | 0xFFFFF, position, _bytes_behind(logs, at))

    def _close_head(self) -> None:
        if self._head_conn is not None:
            with contextlib.suppress(Exception):
                self._head_conn.close()
            self._head_conn = None

    def close(self) -> None:
        if self._sub is not None:
            self._sub.closed = True
            self._sub.buffer.wake()
        self._catalog.close()
        self._close_head()


def _bytes_behind(logs: list[tuple[str, int]], at: tuple[str, int] | None) -> int | None:
    """Binlog bytes after ``at`` (file, pos), from SHOW BINARY LOGS; None when unknown."""
    names = [name for name, _ in logs]
    if at is None or at[0] not in names:
        return None
    index = names.index(at[0])
    return max(0, logs[index][1] - at[1]) + sum(size for _, size in logs[index + 1 :])
