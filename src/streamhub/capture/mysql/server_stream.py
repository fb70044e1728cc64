"""One binlog stream per MariaDB/MySQL server in the agent, parsed once, fanned out by connector.

Every connector of one server (same host, port and user) subscribes to one ``ServerStream``: a
daemon thread owning one ``BinLogStreamReader`` (pymysqlreplication is synchronous and blocks on
its socket). The server filters nothing by table, so the library is told the union of the
connectors' schemas and tables (``only_schemas``/``only_tables``) and the event types they need
(``only_events``): the row events of any other table are skipped unparsed. A rows event's
rows are decoded by the translator of each connector that reads its table, with that table's
compiled decoder (``row_decode``; the library's lazy ``.rows`` only as the fallback), and a
TableMapEvent is parsed once per distinct body (``table_maps``).

Positions stay per connector. The stream starts from the ``meet`` of its connectors' positions
(the newest position every one of them has) and each connector's ``BinlogTranslator`` gets only
the transactions its own position does not contain: a connector never sees a transaction twice
in one subscription, and resumes from its own stored GTID. A connector that joins behind the
stream (a restart from its stored position, a new connector) makes the stream reconnect from
the meet of its position and the stream's (a "rewind"); the others skip what they already have,
so their positions do not move. A joining connector whose position the server no longer has
fails alone (``PositionLostError``); the stream goes on from where it was. Connectors join only
between transactions. A connector that leaves simply stops receiving; the last one to leave
stops the stream.

Back-pressure: each connector has a bounded buffer (``buffer_events`` changes); the stream waits
on a full one instead of holding the binlog in memory, so a large transaction streams through
in bounded pieces. A slow connector therefore slows the others of its server, as one binlog
reader must. A failure of the stream reaches every connector; a failure in one connector's
translation (a table without column names) reaches only that one.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pymysql
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

from streamhub.capture.errors import SourceUnavailableError
from streamhub.capture.model import Event, TransactionEnd
from streamhub.capture.mysql.gtid import GtidPosition
from streamhub.capture.mysql.table_maps import TableMaps, hooked_connection
from streamhub.capture.mysql.translator import BinlogTranslator, carry_bytes, charsets_of
from streamhub.capture.mysql.watermarks import WATERMARK_SCHEMA, WATERMARK_TABLE

HEARTBEAT_S = 1.0
ER_MASTER_FATAL_READING_BINLOG = 1236  # GTID purged, or not in this server's binlog
_ER_SAME_SERVER_ID = 4052  # MariaDB: a replica with this server_id is already connected
_FL_STANDALONE = 0x01  # MariaDB GTID flag: no XID/COMMIT follows (DDL)
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
_ROWS = (WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent)
_GTIDS = (MariadbGtidEvent, GtidEvent)

Scanned = tuple[str, int]  # binlog file and position


def _probe_server_id() -> int:
    """A replica id for a one-packet position check, unlike any connector's (< 2**31)."""
    return 0x80000000 + secrets.randbelow(0x7FFFFFFF)


@dataclass(frozen=True)
class ServerAddress:
    """What makes two connectors share a stream: the server and the user they read it as."""

    host: str
    port: int
    user: str
    mariadb: bool


@dataclass(frozen=True)
class StreamLogin:
    """How the stream connects: the first subscriber's password and replica id."""

    password: str
    server_id: int


class EventBuffer:
    """A bounded FIFO of one connector's events, in batches tagged with the binlog position
    read when the batch was made (for bytes behind); ``put`` waits while it is full."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._batches: deque[tuple[list[Event], Scanned | None]] = deque()
        self._count = 0
        self._cond = threading.Condition()

    def put(self, events: list[Event], scanned: Scanned | None, alive: Callable[[], bool]) -> None:
        with self._cond:
            while self._count >= self._limit:
                if not alive():
                    return
                self._cond.wait(0.5)
            self._batches.append((events, scanned))
            self._count += len(events)
            self._cond.notify_all()

    def get(self, max_events: int, timeout_s: float) -> tuple[list[Event], Scanned | None]:
        """Up to ``max_events`` events (waiting up to ``timeout_s`` for the first) and the
        position tag of the last batch they came from."""
        out: list[Event] = []
        tag: Scanned | None = None
        with self._cond:
            if not self._batches and timeout_s > 0:
                self._cond.wait(timeout_s)
            while self._batches and len(out) < max_events:
                events, tag = self._batches.popleft()
                room = max_events - len(out)
                if len(events) > room:
                    self._batches.appendleft((events[room:], tag))
                    events = events[:room]
                out.extend(events)
                last = events[-1] if events else None
                if isinstance(last, TransactionEnd) and "+" in last.resume:
                    break  # a resume point inside a transaction ends the read: the task's
                    # checkpoints are taken between reads
            self._count -= len(out)
            if out:
                self._cond.notify_all()
        return out, tag

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    @property
    def empty(self) -> bool:
        return not self._batches


class Subscription:
    """One connector's share of a server stream; its events arrive in ``buffer``."""

    def __init__(
        self, name: str, translator: BinlogTranslator, start: str, buffer_events: int
    ) -> None:
        self.name = name
        self.translator = translator
        self.start = start
        self.schema = translator.database
        self.tables = translator.tables
        self.buffer = EventBuffer(buffer_events)
        self.ready = threading.Event()  # streaming from its position, or failed
        self.failure: BaseException | None = None
        self.closed = False
        self.skipping = False  # the current transaction is at or before its position

    def fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
        self.ready.set()
        self.buffer.wake()


class _Rewind(Exception):
    """Reconnect from ``start``: a joining connector needs what the stream has passed."""

    def __init__(self, start: str) -> None:
        super().__init__(start)
        self.start = start


class ServerStream:
    """The binlog of one server, read once for the connectors subscribed to it."""

    def __init__(
        self, address: ServerAddress, login: StreamLogin, on_end: Callable[[ServerStream], None]
    ) -> None:
        self.address = address
        self._login = login
        self._on_end = on_end
        self._lock = threading.Lock()
        self._joining: list[Subscription] = []
        self._closing = False
        self._members: list[Subscription] = []
        self._fresh: list[Subscription] = []  # admitted at the last (re)connect, not yet ready
        self._position: GtidPosition | None = None  # after the last commit read
        self._previous: str | None = None  # where it stood before a rewind
        self._open: str | None = None  # GTID of the transaction being read
        self._standalone = False
        self._routes: dict[int, list[Subscription]] = {}
        self._schemas: set[str] = {WATERMARK_SCHEMA}
        self._tables: set[str] = {WATERMARK_TABLE}
        self.scanned: Scanned | None = None
        self._same_id_waits = 0
        self._table_maps = TableMaps()
        self._thread = threading.Thread(
            target=self._run,
            name=f"streamhub-binlog-{address.host}:{address.port}",
            daemon=True,
        )

    # --- called by the connectors' readers ------------------------------------------------

    def join(self, sub: Subscription) -> bool:
        """Queue ``sub``; False when the stream is ending (the caller opens a new one)."""
        with self._lock:
            if self._closing:
                return False
            self._joining.append(sub)
            if not self._thread.is_alive() and self._thread.ident is None:
                self._thread.start()
            return True

    @property
    def connectors(self) -> list[str]:
        """The connectors streaming from it now (for operators and tests)."""
        return [m.name for m in self._members if not m.closed]

    # --- the stream thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            start: str | None = self._first_start()
            while start is not None:
                try:
                    start = self._stream_from(start)
                except _Rewind as rewind:
                    start = rewind.start
        except Exception as exc:
            with self._lock:
                self._closing = True
                everyone = self._members + self._joining
            for sub in everyone:
                sub.fail(exc)
        finally:
            self._on_end(self)

    def _refused(self, sub: Subscription, started: str) -> bool:
        """Whether the server refuses ``sub``'s own position (a lone reader would have been
        told at connect): checked by a short dump from it unless the stream starts there."""
        if sub.start == started:
            return False
        settings = self._settings(sub.start)
        settings.update(blocking=False, only_events=None, server_id=_probe_server_id())
        del settings["pymysql_wrapper"], settings["freeze_schema"]
        probe = BinLogStreamReader(**settings)
        try:
            probe.fetchone()
        except pymysql.MySQLError as exc:
            if exc.args and exc.args[0] == ER_MASTER_FATAL_READING_BINLOG:
                sub.fail(exc)
                return True
            raise
        finally:
            with contextlib.suppress(Exception):
                probe.close()
        return False

    def _first_start(self) -> str | None:
        with self._lock:
            joining, self._joining = [s for s in self._joining if not s.closed], []
            if not joining:
                self._closing = True
                return None
        position = GtidPosition(joining[0].start, self.address.mariadb)
        for sub in joining[1:]:
            position = GtidPosition(
                position.meet(GtidPosition(sub.start, self.address.mariadb)), self.address.mariadb
            )
        joining = [s for s in joining if not self._refused(s, position.resume)]
        if not joining:
            return self._first_start()
        self._admit(joining)
        self._fresh = list(joining)
        self._position = position
        return position.resume

    def _admit(self, joining: list[Subscription]) -> bool:
        """Make ``joining`` members; True when the stream's table filter had to widen."""
        self._members.extend(joining)
        widened = False
        for sub in joining:
            widened |= sub.schema not in self._schemas or not sub.tables <= self._tables
            self._schemas.add(sub.schema)
            self._tables |= sub.tables
        return widened

    def _stream_from(self, start: str) -> str | None:
        """Stream from ``start``; the next start after a rewind, None when no one is left."""
        stream = BinLogStreamReader(**self._settings(start))
        maps = self._table_maps
        maps.attach(stream)
        got_event = False
        try:
            for event in stream:
                if not got_event:
                    got_event, self._same_id_waits = True, 0
                    for sub in self._fresh:
                        sub.ready.set()
                    self._fresh, self._previous = [], None
                self.scanned = (stream.log_file, stream.log_pos)
                if self._ending():
                    return None
                if maps.pending:  # table maps read before this event, known already
                    mapped, maps.pending = maps.pending, []
                    for table_map, charsets in mapped:
                        self._table_map(table_map, charsets)
                self._step(event, stream)
            raise SourceUnavailableError("the server ended the binlog stream")
        except pymysql.MySQLError as exc:
            code = exc.args[0] if exc.args else None
            if code == _ER_SAME_SERVER_ID and self._same_id_waits < 15:
                # our own previous dump (before a rewind, a reconnect, a killed agent) is
                # still registered on the server for a moment: wait for it to go, then go on
                # from the last commit (a transaction read in part is read again)
                self._same_id_waits += 1
                time.sleep(1.0)
                if not got_event or self._position is None:
                    return start
                self._open, self._standalone = None, False
                self._routes.clear()
                return self._position.resume
            if code != ER_MASTER_FATAL_READING_BINLOG or got_event:
                raise
            # only the connectors that joined with this position asked for it: they fail
            refused, self._fresh = self._fresh, []
            for sub in refused:
                sub.fail(exc)
            self._members = [m for m in self._members if m not in refused]
            previous, self._previous = self._previous, None
            if previous is None:  # the first start: whoever joined since starts afresh
                return self._first_start()
            self._position = GtidPosition(previous, self.address.mariadb)
            return previous
        finally:
            with contextlib.suppress(Exception):
                stream.close()

    def _ending(self) -> bool:
        if any(m.closed for m in self._members):
            self._members = [m for m in self._members if not m.closed]
        if self._members:
            return False
        with self._lock:
            if self._joining:
                return False
            self._closing = True
            return True

    def _settings(self, start: str) -> dict[str, Any]:
        address = self.address
        return {
            "connection_settings": {
                "host": address.host,
                "port": address.port,
                "user": address.user,
                "password": self._login.password,
                "connect_timeout": 10,
                "read_timeout": 30 * HEARTBEAT_S,  # a silent socket is dead: reconnect
            },
            "server_id": self._login.server_id,
            "blocking": True,
            "is_mariadb": address.mariadb,
            "auto_position": start,
            "only_schemas": sorted(self._schemas),
            "only_tables": sorted(self._tables),
            "only_events": _EVENTS,
            "slave_heartbeat": HEARTBEAT_S,
            "enable_logging": False,
            # a TableMapEvent is parsed once per distinct body (table_maps)
            "freeze_schema": True,
            "pymysql_wrapper": hooked_connection(self._table_maps),
        }

    def _step(self, event: Any, stream: Any) -> None:
        if isinstance(event, _GTIDS):
            if self._open is not None and self._standalone:
                self._commit(self._open, stream)
            self._open = None
            if self._joining:
                self._join_waiting()
            self._open = event.gtid
            self._standalone = (
                bool(event.flags & _FL_STANDALONE) if isinstance(event, MariadbGtidEvent) else True
            )
            self._begin(event)
            return
        if isinstance(event, _ROWS):
            for sub in self._routes.get(event.table_id, ()):
                if not sub.skipping:
                    self._deliver(sub, event)
            return
        if isinstance(event, TableMapEvent):
            charsets = charsets_of(event)  # before carry_bytes changes the columns
            self._table_maps.parsed(event, charsets)
            self._table_map(event, charsets)
            return
        if isinstance(event, HeartbeatLogEvent):
            if self._open is None and self._joining:
                self._join_waiting()
            for sub in self._members:
                self._hand(sub, sub.translator.idle)
            return
        if isinstance(event, XidEvent):
            self._commit(self._open, stream)
        elif isinstance(event, QueryEvent):
            query = event.query.strip().upper()
            if query == "BEGIN":
                self._standalone = False
            elif query == "COMMIT" or self._standalone:
                self._commit(self._open, stream)
        for sub in self._members:
            if not sub.skipping:
                self._deliver(sub, event)

    def _commit(self, gtid: str | None, stream: Any) -> None:
        if gtid is None or self._position is None:
            return
        self._position.commit(gtid)
        self._open = None
        # the library reconnects by itself on a lost connection: from the last commit
        stream.auto_position = self._position.resume

    def _join_waiting(self) -> None:
        """Admit the connectors waiting to join, between two transactions."""
        assert self._position is not None
        with self._lock:
            joining, self._joining = self._joining, []
        mariadb = self.address.mariadb
        behind = [s for s in joining if not GtidPosition(s.start, mariadb).covers(self._position)]
        ahead = [s for s in joining if s not in behind]  # the stream starts elsewhere: ask
        joining = [s for s in behind if not s.closed] + [
            s for s in ahead if not s.closed and not self._refused(s, self._position.resume)
        ]
        behind = [s for s in behind if s in joining]
        if not joining:
            return
        widened = self._admit(joining)
        if not behind and not widened:
            for sub in joining:
                sub.ready.set()
            return
        start = self._position.resume
        for sub in behind:
            start = GtidPosition(start, mariadb).meet(GtidPosition(sub.start, mariadb))
        self._previous = self._position.resume if behind else None
        self._fresh = behind
        for sub in joining:
            if sub not in behind:
                sub.ready.set()
        self._position = GtidPosition(start, mariadb)
        self._routes.clear()
        raise _Rewind(start)

    def _begin(self, event: Any) -> None:
        self._routes.clear()  # a transaction maps its tables again before its rows
        gtid = event.gtid
        for sub in self._members:
            if sub.translator.position.contains(gtid):
                sub.skipping = True
                self._hand(sub, sub.translator.skip)
            else:
                sub.skipping = False
                self._deliver(sub, event)

    def _table_map(self, event: Any, charsets: list[str | None]) -> None:
        schema, table = event.schema, event.table
        wanting = [s for s in self._members if not s.skipping and s.translator.wants(schema, table)]
        if not wanting:
            self._routes.pop(event.table_id, None)
            return
        taken = []
        for sub in wanting:
            try:
                if sub.translator.table_map(event, charsets):
                    taken.append(sub)
            except Exception as exc:  # this connector's trouble: the others go on
                sub.fail(exc)
                sub.closed = True
        carry_bytes(event.columns)
        self._routes[event.table_id] = taken

    def _deliver(self, sub: Subscription, event: Any) -> None:
        self._hand(sub, lambda: sub.translator.translate(event))

    def _hand(self, sub: Subscription, make: Callable[[], list[Event]]) -> None:
        if sub.closed:
            return
        try:
            events = make()
        except Exception as exc:  # this connector's trouble: the others go on
            sub.fail(exc)
            sub.closed = True
            return
        if events:
            sub.buffer.put(events, self.scanned, lambda: not sub.closed)


class ServerStreams:
    """The agent's server streams, one per (host, port, user); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[ServerAddress, ServerStream] = {}

    def subscribe(self, address: ServerAddress, login: StreamLogin, sub: Subscription) -> None:
        with self._lock:
            stream = self._streams.get(address)
            if stream is None or not stream.join(sub):
                stream = ServerStream(address, login, self._ended)
                self._streams[address] = stream
                stream.join(sub)

    def _ended(self, stream: ServerStream) -> None:
        with self._lock:
            if self._streams.get(stream.address) is stream:
                del self._streams[stream.address]

    def stream_of(self, address: ServerAddress) -> ServerStream | None:
        with self._lock:
            return self._streams.get(address)


STREAMS = ServerStreams()  # one registry per process: the agent's connectors share it
