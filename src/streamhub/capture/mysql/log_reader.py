"""MariaDB/MySQL binlog → model events, with pymysqlreplication in a daemon thread.

Threading: ``BinLogStreamReader`` is synchronous and blocks on its socket, so one daemon thread
owns it (and its connections), turns each binlog event into model events (``_Translator``) and
puts them on a bounded queue; when the agent falls behind, the thread waits on the queue instead
of buffering the binlog in memory. ``read`` drains the queue. An exception in the thread is
queued after the events that preceded it and raised by ``read`` as ``SourceUnavailableError``
(``PositionLostError`` when the server no longer has the requested GTIDs), chained to its
cause. The server sends a heartbeat every second while idle, so the thread notices ``close``.

Positions (MariaDB): a transaction's GTID ``domain-server-seq`` is its rows' ``position`` and
``txid``; ``position_seq = seq << 20 | index in the transaction`` (``| 0xFFFFF`` for its
``TransactionEnd``), so it grows within a GTID domain (sequence numbers of different domains are
unrelated). ``resume`` lists the last GTID of every domain seen, which is what MariaDB takes as
``@slave_connect_state``. ``commit_ts_ms`` has the binlog's one-second resolution. Rows past the
2**20 - 2nd of one transaction share its last position_seq. MySQL (kept minimal): ``uuid:n`` with
seq n; ``resume`` is the executed GTID set. Transactions without captured rows still advance the
position: their ``TransactionEnd`` is sent at most once per ``heartbeat_s``.

Raw text: pymysqlreplication decodes CHAR/VARCHAR/TEXT in ``RowsEvent.__read_string`` as
``bytes.decode(self.charset_to_encoding(column.character_set_name), "strict")``; latin1 becomes
cp1252, which raises on 0x81/0x8D/0x8F/0x90/0x9D, and no option returns bytes
(``ignore_decode_errors`` drops them). So when a captured table's TableMapEvent arrives (before
its rows are parsed: rows decode lazily, on ``.rows``), ``_carry_bytes`` sets each string
column's ``character_set_name`` to Python's ``latin-1``, which maps every byte to the code point
of the same value: ``value.encode("latin-1")`` gives back exactly the binlog's bytes, decoded by
``types.ValuePlan`` with the charset read from the TableMapEvent first. Only the Column objects
of this reader's own stream change; nothing in the library is patched.
"""

from __future__ import annotations

import contextlib
import queue
import re
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
from pymysqlreplication.gtid import Gtid, GtidSet
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    TableMapEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import LogReader
from streamhub.capture.errors import CaptureError, PositionLostError, SourceUnavailableError
from streamhub.capture.keychange import split_key_change
from streamhub.capture.model import (
    ColumnInfo,
    Event,
    Op,
    RowEvent,
    SourceHead,
    TableInfo,
    TransactionEnd,
    UndecodableValue,
    Watermark,
)
from streamhub.capture.mysql import types
from streamhub.capture.mysql.snapshot_reader import (
    WATERMARK_SCHEMA,
    WATERMARK_TABLE,
    CatalogColumn,
    connect,
    describe,
    watermark_chunk_id,
)

_CARRIER = "latin-1"  # Python's ISO-8859-1: byte n <-> U+00nn, so text round-trips to bytes
_INDEX_MAX = 0xFFFFE  # 0xFFFFF is the TransactionEnd's
_FL_STANDALONE = 0x01  # MariaDB GTID flag: no XID/COMMIT follows (DDL)
_MARIADB_GTID = re.compile(r"^\d+-\d+-\d+$")
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


def parse_mariadb_gtids(text: str) -> dict[int, str]:
    """``"0-1-5,1-2-9"`` → {domain: gtid}; ValueError when malformed."""
    gtids: dict[int, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if not _MARIADB_GTID.match(part):
            raise ValueError(f"{part!r} is not a MariaDB GTID (domain-server-seq)")
        gtids[int(part.split("-")[0])] = part
    return gtids


def head_seq(position: str, mariadb: bool) -> int:
    """The largest sequence number in a GTID position (MariaDB list or MySQL set)."""
    if mariadb:
        return max(
            (int(g.rsplit("-", 1)[1]) for g in parse_mariadb_gtids(position).values()), default=0
        )
    ends = [
        int(interval.rsplit("-", 1)[-1])
        for member in position.replace("\n", "").split(",")
        for interval in member.split(":")[1:]
        if interval.replace("-", "").isdigit()
    ]
    return max(ends, default=0)


class GtidPosition:
    """The stream position after the last commit: MariaDB GTID per domain, or MySQL GTID set."""

    def __init__(self, start: str, mariadb: bool) -> None:
        self._mariadb = mariadb
        if mariadb:
            self._domains = parse_mariadb_gtids(start)
        else:
            self._set = GtidSet(start or None)

    def commit(self, gtid: str) -> None:
        if self._mariadb:
            self._domains[int(gtid.split("-")[0])] = gtid
        else:
            self._set = self._set + Gtid(gtid)

    @property
    def resume(self) -> str:
        if self._mariadb:
            return ",".join(self._domains[d] for d in sorted(self._domains))
        return str(self._set)


@dataclass
class _Table:
    info: TableInfo
    plans: list[types.ValuePlan]  # in binlog column order
    carried: frozenset[str]  # string columns whose values arrive latin-1-carried
    watermark: bool = False


def _charset(column: Any) -> str | None:
    """The MySQL charset of a binlog column, before ``_carry_bytes`` touches it."""
    if column.collation_name:
        return str(column.collation_name).split("_")[0]  # latin1_swedish_ci, binary
    encoding = column.character_set_name  # the library's codec name: cp1252 means latin1
    if encoding is None:
        return None
    return {"cp1252": "latin1", "utf8": "utf8mb4"}.get(str(encoding), str(encoding))


def _carry_bytes(columns: list[Any]) -> None:
    for column in columns:
        if column.type in types.STRING_FIELD_TYPES:
            column.character_set_name = _CARRIER


class _Translator:
    """Binlog events → model events for one connector; used only by the stream thread."""

    def __init__(
        self,
        config: ConnectorConfig,
        start: str,
        describe_table: Callable[[str], list[CatalogColumn]],
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._database = config.connection.database
        self._wanted = set(config.tables)
        self._describe = describe_table
        self._clock = clock
        self.position = GtidPosition(start, config.engine == "mariadb")
        self._by_id: dict[int, _Table] = {}
        self._layouts: dict[tuple[str, str], tuple[object, _Table]] = {}
        self._gtid: str | None = None
        self._seq = 0
        self._index = 0
        self._standalone = False
        self._emitted = False
        self._begin_ts = 0
        self._quiet_end: TransactionEnd | None = None  # a commit without rows, not yet sent
        self._last_end = clock()

    def translate(self, event: Any) -> list[Event]:
        if isinstance(event, MariadbGtidEvent):
            done = self._begin(event.gtid, event.gtid_seq_no, bool(event.flags & _FL_STANDALONE))
        elif isinstance(event, GtidEvent):  # MySQL: DML opens with BEGIN, DDL stands alone
            done = self._begin(event.gtid, event.gno, True)
        else:
            done = None
        if done is not None:
            self._begin_ts = event.timestamp
            return done
        if isinstance(event, XidEvent):
            return self._commit(event.timestamp)
        if isinstance(event, QueryEvent):
            query = event.query.strip().upper()
            if query == "BEGIN":
                self._standalone = False
                return []
            if query == "COMMIT" or self._standalone:
                return self._commit(event.timestamp)
            return []
        if isinstance(event, TableMapEvent):
            self._table_map(event)
            return []
        if isinstance(event, WriteRowsEvent | UpdateRowsEvent | DeleteRowsEvent):
            return self._rows(event)
        if isinstance(event, HeartbeatLogEvent):
            return self.idle()
        return []

    def idle(self) -> list[Event]:
        """Send a held-back TransactionEnd once the source has been quiet for heartbeat_s."""
        if self._quiet_end is None or self._clock() - self._last_end < self._config.heartbeat_s:
            return []
        end, self._quiet_end = self._quiet_end, None
        self._last_end = self._clock()
        return [end]

    def _begin(self, gtid: str, seq: int, standalone: bool) -> list[Event]:
        # a transaction without COMMIT before the next GTID ends there; a library reconnect
        # re-sends the open transaction from its GTID, which simply starts it again
        ended = self._gtid not in (None, gtid) and self._standalone
        done = self._commit(self._begin_ts) if ended else []
        self._gtid, self._seq, self._index = gtid, seq, 0
        self._standalone, self._emitted = standalone, False
        return done

    def _commit(self, timestamp: int) -> list[Event]:
        if self._gtid is None:
            return []
        self.position.commit(self._gtid)
        end = TransactionEnd(self.position.resume, (self._seq << 20) | 0xFFFFF, timestamp * 1000)
        self._gtid = None
        if not self._emitted and self._clock() - self._last_end < self._config.heartbeat_s:
            self._quiet_end = end
            return []
        self._quiet_end = None
        self._last_end = self._clock()
        return [end]

    def _next_seq(self) -> int:
        index = self._index
        self._index = min(self._index + 1, _INDEX_MAX)
        return (self._seq << 20) | index

    def _table_map(self, event: Any) -> None:
        name = (event.schema, event.table)
        watermark = name == (WATERMARK_SCHEMA, WATERMARK_TABLE)
        if not watermark and (event.schema != self._database or event.table not in self._wanted):
            self._by_id.pop(event.table_id, None)
            return
        columns = event.columns
        if any(c.name is None for c in columns):
            raise CaptureError(
                f"the binlog has no column names for {event.schema}.{event.table}: "
                "set binlog_row_metadata=FULL on the server (MariaDB ≥ 10.5, MySQL ≥ 8.0.14)"
            )
        charsets = [_charset(c) for c in columns]
        nullable = [bool(event.null_bitmask[i // 8] & (1 << (i % 8))) for i in range(len(columns))]
        prefixed = event.optional_metadata.primary_keys_with_prefix or {}
        keys = {c.name for i, c in enumerate(columns) if c.is_primary or i in prefixed}
        layout = tuple(
            (c.name, c.type, charsets[i], getattr(c, "max_length", None), c.unsigned, nullable[i])
            for i, c in enumerate(columns)
        )
        signature = (layout, tuple(sorted(keys)))
        cached = self._layouts.get(name)
        if cached is None or cached[0] != signature:
            table = self._build(event, charsets, nullable, keys, watermark)
            cached = (signature, table)
            self._layouts[name] = cached
        self._by_id[event.table_id] = cached[1]
        _carry_bytes(columns)

    def _build(
        self,
        event: Any,
        charsets: list[str | None],
        nullable: list[bool],
        keys: set[str],
        watermark: bool,
    ) -> _Table:
        """A new layout: binlog metadata decides; information_schema fills in what it lacks."""
        names = [c.name for c in event.columns]
        catalog = [] if watermark else self._describe(event.table)
        same = [c.name for c in catalog] == names  # information_schema shows today's layout
        if not keys:
            keys = {c.name for c in catalog if c.key_position is not None}
        plans, infos = [], []
        for i, column in enumerate(event.columns):
            data_type = types.binlog_data_type(column.type, charsets[i])
            kind = types.kind_of(data_type, column.unsigned)
            text = data_type in types.TEXT_TYPES
            plans.append(
                types.ValuePlan(
                    name=column.name,
                    data_type=data_type,
                    kind=kind,
                    codec=types.text_codec(charsets[i], self._config.encoding) if text else None,
                    octets=getattr(column, "max_length", None) if data_type == "binary" else None,
                )
            )
            source_type = data_type + (" unsigned" if column.unsigned else "")
            if same and catalog[i].info().kind == kind:
                source_type = catalog[i].column_type
            infos.append(
                ColumnInfo(column.name, source_type, kind, column.name in keys, nullable[i])
            )
        carried = frozenset(c.name for c in event.columns if c.type in types.STRING_FIELD_TYPES)
        info = TableInfo(self._database, None, event.table, tuple(infos))
        return _Table(info, plans, carried, watermark)

    def _rows(self, event: Any) -> list[Event]:
        table = self._by_id.get(event.table_id)
        if table is None:
            return []
        if self._gtid is None:
            raise CaptureError(f"row event for {event.table} outside a GTID transaction")
        rows = event.rows
        out: list[Event] = []
        size = event.event_size // max(len(rows), 1)
        for row in rows:
            if isinstance(event, UpdateRowsEvent):
                op: Op = "u"
                before_raw, after_raw = row["before_values"], row["after_values"]
            elif isinstance(event, WriteRowsEvent):
                op, before_raw, after_raw = "c", None, row["values"]
            else:
                op, before_raw, after_raw = "d", row["values"], None
            if table.watermark:
                out.extend(self._watermark(table, op, after_raw))
            else:
                out.extend(self._row(table, op, before_raw, after_raw, event.timestamp, size))
        return out

    def _row(
        self,
        table: _Table,
        op: Op,
        before_raw: dict[str, object] | None,
        after_raw: dict[str, object] | None,
        timestamp: int,
        size: int,
    ) -> list[Event]:
        assert self._gtid is not None
        before, bad_before = self._image(table, before_raw)
        after, bad_after = self._image(table, after_raw)
        image = after if after is not None else before
        assert image is not None
        key = {k: image[k] for k in table.info.key_columns}
        seq, ts = self._next_seq(), timestamp * 1000
        # an unchanged bad value sits in both images of an update: report it once
        after_raws = {(name, exc.raw) for name, exc in bad_after}
        bad = bad_after + [(n, e) for n, e in bad_before if (n, e.raw) not in after_raws]
        out: list[Event] = [
            UndecodableValue(table.info, op, name, exc.raw, exc.reason, key, self._gtid, seq, ts)
            for name, exc in bad
        ]
        event = RowEvent(
            table.info, op, before, after, self._gtid, seq, self._gtid, ts, size_bytes=size
        )
        # the before image shows a key change: a delete of the old key, a create of the new
        out.extend(split_key_change(event, self._next_seq))
        self._emitted = True
        return out

    def _image(
        self, table: _Table, values: dict[str, object] | None
    ) -> tuple[dict[str, object] | None, list[tuple[str, types.UndecodableText]]]:
        if values is None:
            return None, []
        image: dict[str, object] = {}
        bad: list[tuple[str, types.UndecodableText]] = []
        for plan in table.plans:
            value = values.get(plan.name)
            if isinstance(value, str) and plan.name in table.carried:
                value = value.encode(_CARRIER)
            try:
                image[plan.name] = plan.convert(value)
            except types.UndecodableText as exc:
                image[plan.name] = None
                bad.append((plan.name, exc))
        return image, bad

    def _watermark(self, table: _Table, op: Op, values: dict[str, object] | None) -> list[Event]:
        row, _ = self._image(table, values)
        if op != "c" or row is None or row.get("connector") != self._config.name:
            return []
        kind = row.get("kind")
        if kind not in ("low", "high"):
            return []
        self._emitted = True
        chunk_id = watermark_chunk_id(str(row.get("id")))
        return [Watermark("low" if kind == "low" else "high", chunk_id, self._next_seq())]


class _Catalog:
    """information_schema look-ups from the stream thread, on a connection of its own."""

    def __init__(self, config: ConnectorConfig, password: str) -> None:
        self._config, self._password = config, password
        self._conn: Any = None

    def describe(self, table: str) -> list[CatalogColumn]:
        if self._conn is None:
            self._conn = connect(self._config, self._password)
        with self._conn.cursor() as cur:
            return describe(cur, self._config.connection.database, table)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()


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
        clock: Callable[[], float] = time.monotonic,
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
        self._head_conn: Any = None
        self._catalog = _Catalog(config, password)

    def start(self, resume: str | None) -> str:
        if self._thread is not None:
            raise CaptureError(f"connector {self.config.name}: the log reader is already started")
        position = resume if resume is not None else self._server_position()
        try:
            translator = _Translator(self.config, position, self._catalog.describe, self._clock)
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

    def _run(self, translator: _Translator, position: str) -> None:
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
        deadline = time.monotonic() + timeout_s
        while len(out) < max_events:
            if self._pending:
                out.append(self._pending.popleft())
                continue
            wait = 0.0 if out else deadline - time.monotonic()
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
                    (position,) = cur.fetchone()
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
                position = str(cur.fetchone()[0] or "").replace("\n", "")
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
