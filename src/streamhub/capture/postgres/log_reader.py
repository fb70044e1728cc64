"""The PostgreSQL log reader: pgoutput over a logical replication slot (psycopg2).

Feedback (psycopg2 2.9, ``psycopg/pqpath.c``): ``send_feedback`` keeps the
largest LSN it was given (a 0 never lowers it; the server ignores a 0 flush)
and sends it only when forced, when a keepalive asks for a reply, or from
``read_message()`` once ``status_interval`` has passed. So the server hears from
us only while ``read()`` runs; ``read()`` waits in short ``select`` slices and
calls ``read_message()`` after each one, which answers keepalives and sends a
status update every ``status_interval`` (a quarter of ``wal_sender_timeout``).

psycopg2 also moves the flush position up to a keepalive's WAL end when the
flush we gave it is >= the start of the last data message. Caught up, that is
what lets an idle slot release WAL. Mid-transaction it can overshoot (Relation
messages carry start 0/0, an interleaved transaction's Begin an older LSN), but
PostgreSQL sends keepalives mid-transaction only after hearing nothing for
``wal_sender_timeout / 2``: call ``read()`` more often than that.
"""

from __future__ import annotations

import contextlib
import json
import select
from collections import deque
from dataclasses import dataclass

import psycopg2
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import cursor as Cursor
from psycopg2.extras import LogicalReplicationConnection, ReplicationCursor

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import LogReader
from streamhub.capture.errors import CaptureError, SourceUnavailableError
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
    ValueKind,
    Watermark,
)
from streamhub.capture.postgres import pgoutput
from streamhub.capture.postgres.catalog import column_details, format_types
from streamhub.capture.postgres.connection import (
    connect,
    connect_replication,
    database_encoding,
    fetch_one,
    qualified_tables,
    translated,
    where,
)
from streamhub.capture.postgres.setup import ensure_publication, ensure_slot
from streamhub.capture.postgres.types import BadValue, Parser, convert, kind_for_oid, parser_for
from streamhub.capture.postgres.watermarks import WATERMARK_PREFIX
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.log import get_logger

log = get_logger(__name__)

_ROW_CHANGES = (pgoutput.Insert, pgoutput.Update, pgoutput.Delete)
INDEX_LIMIT = 0xFFFFE  # rows past a million in one transaction share it; 0xFFFFF ends it
END_OF_TRANSACTION = 0xFFFFF
SELECT_SLICE_S = 1.0  # longest wait before psycopg2 gets a chance to send a status update


@dataclass
class _Transaction:
    xid: int
    final_lsn: int
    commit_ts_ms: int
    index: int = 0

    def __post_init__(self) -> None:
        self.txid = str(self.xid)  # once per transaction, not per row

    def next_seq(self) -> int:
        seq = (self.final_lsn << 20) | min(self.index, INDEX_LIMIT)
        self.index += 1
        return seq


@dataclass(frozen=True)
class _Column:
    """How to read one column of a tuple: its name, whether the replica identity holds it
    (an old key 'K' carries only those), and its converters."""

    name: str
    identity: bool
    kind: ValueKind
    parse: Parser


@dataclass(frozen=True)
class _Stream:
    table: TableInfo
    relation: pgoutput.Relation
    columns: tuple[_Column, ...]
    # (name, identity, parse) per column: what the per-row loop unpacks
    readers: tuple[tuple[str, bool, Parser], ...]

    @classmethod
    def of(cls, table: TableInfo, relation: pgoutput.Relation, encoding: str) -> _Stream:
        columns = tuple(
            _Column(col.name, col.key, info.kind, parser_for(info.kind, encoding))
            for col, info in zip(relation.columns, table.columns, strict=True)
        )
        readers = tuple((c.name, c.identity, c.parse) for c in columns)
        return cls(table, relation, columns, readers)

    def column(self, name: str) -> _Column:
        return next(c for c in self.columns if c.name == name)


class PostgresLogReader(LogReader):
    """Row events as the log has them. Updates: ``before`` is the old row under REPLICA
    IDENTITY FULL, the old key when the key changed, else None. Deletes: ``before`` is
    the old key (the old row under FULL). A toasted value the update did not change is
    not in the log: it is copied from the old row under FULL, else left out of ``after``.
    """

    def __init__(
        self, config: ConnectorConfig, password: str, *, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        super().__init__(config, password)
        # read()'s deadline and the wait for a busy slot; the waits block on the socket
        self._clock = clock
        self._wanted = set(qualified_tables(config))
        self._conn: Connection | None = None  # ordinary connection: catalog, head()
        self._repl: LogicalReplicationConnection | None = None
        self._cursor: ReplicationCursor | None = None
        self._status_interval = 10.0
        self._streams: dict[int, _Stream | None] = {}  # relation id -> ours, or None
        self._txn: _Transaction | None = None
        self._pending: deque[Event] = deque()
        self._confirmed = 0

    # --- lifecycle ---------------------------------------------------------------------

    def start(self, resume: str | None) -> str:
        resume_lsn = pgoutput.parse_lsn(resume) if resume is not None else None
        self.close()
        self._conn = conn = connect(self.config, self.password)
        with translated(self.config, "preparing the publication and slot"):
            cur = conn.cursor()
            ensure_publication(cur, self.config)
            slot_lsn = ensure_slot(cur, self.config, resume, self._clock)
            encoding = database_encoding(conn)
            self._status_interval = _status_interval(cur)
        start = max(resume_lsn or 0, slot_lsn)
        self._repl = repl = connect_replication(self.config, self.password, encoding)
        with translated(self.config, f"starting replication from slot {self.config.slot_name}"):
            # the factory LogicalReplicationConnection uses anyway, named for the type checker
            self._cursor = cursor = repl.cursor(cursor_factory=ReplicationCursor)
            cursor.start_replication(
                slot_name=self.config.slot_name,
                decode=False,
                start_lsn=resume_lsn or 0,  # 0: from the slot's confirmed position
                options={
                    "proto_version": "1",
                    "publication_names": _quote_ident(self.config.publication_name),
                    "messages": "true",
                },
                # psycopg2 takes fractional seconds here; the stub says int
                status_interval=self._status_interval,  # type: ignore[arg-type]
            )
        self._confirmed = start
        return pgoutput.format_lsn(start)

    def close(self) -> None:
        """Closes both connections; the slot stays, holding WAL from the confirmed position."""
        connections: tuple[Connection | None, ...] = (self._repl, self._conn)
        for conn in connections:
            if conn is not None and not conn.closed:
                with contextlib.suppress(psycopg2.Error):  # a broken connection: nothing to do
                    conn.close()
        self._repl = self._cursor = self._conn = None
        self._streams.clear()
        self._txn = None
        self._pending.clear()

    # --- reading -----------------------------------------------------------------------

    def read(self, max_events: int, timeout_s: float) -> list[Event]:
        cursor = self._started()
        deadline = self._clock.monotonic() + timeout_s
        try:
            while len(self._pending) < max_events:
                message = cursor.read_message()  # also answers keepalives, sends status
                if message is not None:
                    self._handle(message.payload, message.data_start)
                    continue
                if self._pending:
                    break  # nothing more buffered: hand over what we have
                remaining = deadline - self._clock.monotonic()
                if remaining <= 0:
                    break
                select.select([cursor.connection], [], [], min(remaining, SELECT_SLICE_S))
        except (psycopg2.Error, OSError, ValueError) as exc:  # ValueError: select on a closed fd
            raise self._broken(exc) from exc
        count = min(max_events, len(self._pending))
        return [self._pending.popleft() for _ in range(count)]

    def _broken(self, exc: Exception) -> SourceUnavailableError:
        text = str(exc).strip() or type(exc).__name__
        return SourceUnavailableError(
            f"connector {self.config.name}: the replication stream of slot "
            f"{self.config.slot_name} from {where(self.config)} broke ({text}). PostgreSQL "
            "ends a stream it has not heard from for wal_sender_timeout, and it hears from "
            "us only while read() runs; restart from the stored position"
        )

    def confirm(self, resume: str) -> None:
        """Tell the server it may release WAL before ``resume`` (and never more)."""
        lsn = pgoutput.parse_lsn(resume)
        cursor = self._started()
        if lsn <= self._confirmed:
            return
        self._confirmed = lsn
        try:
            cursor.send_feedback(  # type: ignore[no-untyped-call]  # untyped in the stub
                write_lsn=lsn, flush_lsn=lsn, force=True
            )
        except psycopg2.Error as exc:
            raise self._broken(exc) from exc

    def head(self) -> SourceHead:
        self._started()
        with translated(self.config, "reading the WAL position"), self._catalog().cursor() as cur:
            cur.execute("SELECT pg_current_wal_lsn()::text")
            current = pgoutput.parse_lsn(fetch_one(cur)[0])
        return SourceHead(
            position_seq=current << 20,
            position=pgoutput.format_lsn(current),
            bytes_behind=max(0, current - self._confirmed),
        )

    def _started(self) -> ReplicationCursor:
        if self._cursor is None:
            raise CaptureError(f"connector {self.config.name}: the log reader is not started")
        return self._cursor

    def _catalog(self) -> Connection:
        """The ordinary connection, open from ``start`` to ``close``."""
        if self._conn is None:
            raise CaptureError(f"connector {self.config.name}: the log reader is not started")
        return self._conn

    # --- messages ----------------------------------------------------------------------

    def _handle(self, payload: bytes, data_start: int) -> None:
        try:
            message = pgoutput.decode(payload)
        except CaptureError as exc:
            raise CaptureError(
                f"connector {self.config.name}: slot {self.config.slot_name} at "
                f"{pgoutput.format_lsn(data_start)}: {exc}"
            ) from exc
        if isinstance(message, _ROW_CHANGES):  # the bulk of the stream: asked first
            self._change(message, data_start, len(payload))
        elif isinstance(message, pgoutput.Begin):
            self._txn = _Transaction(message.xid, message.final_lsn, message.commit_ts_ms)
        elif isinstance(message, pgoutput.Commit):
            self._commit(message)
        elif isinstance(message, pgoutput.Relation):
            self._streams[message.relation_id] = self._stream(message)
        elif isinstance(message, pgoutput.LogicalMessage):
            self._message(message)
        elif isinstance(message, pgoutput.Truncate):
            names = [s.table.qualified for i in message.relation_ids if (s := self._streams.get(i))]
            if names:
                # the model has no truncate event: make it visible, reconciliation catches it
                log.warning(
                    "TRUNCATE in the source log is not captured",
                    extra={
                        "connector": self.config.name,
                        "tables": names,
                        "position": pgoutput.format_lsn(data_start),
                    },
                )
        # Origin and Type messages carry nothing the model needs

    def _transaction(self, what: str) -> _Transaction:
        if self._txn is None:
            raise CaptureError(
                f"connector {self.config.name}: pgoutput sent {what} outside a transaction"
            )
        return self._txn

    def _commit(self, commit: pgoutput.Commit) -> None:
        txn = self._transaction("a Commit")
        self._txn = None  # one TransactionEnd per transaction
        self._pending.append(
            TransactionEnd(
                resume=pgoutput.format_lsn(commit.end_lsn),
                position_seq=(txn.final_lsn << 20) | END_OF_TRANSACTION,
                commit_ts_ms=txn.commit_ts_ms,
            )
        )

    def _stream(self, relation: pgoutput.Relation) -> _Stream | None:
        """A TableInfo for one of our tables, as this Relation message describes it."""
        if (relation.namespace, relation.name) not in self._wanted:
            return None
        with translated(self.config, f"describing {relation.namespace}.{relation.name}"):
            cur = self._catalog().cursor()
            current = column_details(cur, relation.relation_id)
            types = format_types(cur, [(c.type_oid, c.type_modifier) for c in relation.columns])
            primary_key = _primary_key(cur, relation.relation_id)
        # REPLICA IDENTITY FULL flags every column: the primary key is the real key
        use_pk = relation.replica_identity in "fn" and bool(primary_key)
        columns = tuple(
            ColumnInfo(
                name=col.name,
                source_type=source_type,
                kind=kind_for_oid(col.type_oid),
                key=col.name in primary_key if use_pk else col.key,
                nullable=not current[col.name][2] if col.name in current else True,
            )
            for col, source_type in zip(relation.columns, types, strict=True)
        )
        table = TableInfo(
            self.config.connection.database, relation.namespace, relation.name, columns
        )
        return _Stream.of(table, relation, self.config.encoding)

    def _change(
        self, message: pgoutput.Insert | pgoutput.Update | pgoutput.Delete, lsn: int, size: int
    ) -> None:
        txn = self._txn if self._txn is not None else self._transaction("a row change")
        try:
            stream = self._streams[message.relation_id]
        except KeyError:
            raise CaptureError(
                f"connector {self.config.name}: change for relation {message.relation_id} "
                "before its Relation message; restart from the stored position"
            ) from None
        if stream is None:
            return  # not one of the connector's tables
        table = stream.table
        bad: list[tuple[str, bytes, str]] = []
        before: dict[str, object] | None = None
        after: dict[str, object] | None = None
        op: Op
        if isinstance(message, pgoutput.Insert):
            op, after = "c", self._values(stream, message.new, bad)
        elif isinstance(message, pgoutput.Update):
            op = "u"
            if message.old is not None:
                before = self._values(stream, message.old, bad, key_only=message.old_kind == "K")
            after = self._values(stream, message.new, bad, fill=before)
        else:
            op = "d"
            before = self._values(stream, message.old, bad, key_only=message.old_kind == "K")
        seq = txn.next_seq()
        position = pgoutput.format_lsn(lsn)
        if bad:
            image = after if after is not None else before or {}
            key = {k: image.get(k) for k in table.key_columns}
            for column, raw, reason in bad:
                self._pending.append(
                    UndecodableValue(
                        table, op, column, raw, reason, key, position, seq, txn.commit_ts_ms
                    )
                )
        event = RowEvent(
            table, op, before, after, position, seq, txn.txid, txn.commit_ts_ms, "false", size
        )
        if before is not None and after is not None:
            # a key change arrives with the old key ('K', or the old row under FULL): it
            # leaves as a delete of the old key and a create of the new one (keychange.py)
            self._pending.extend(split_key_change(event, txn.next_seq))
        else:
            self._pending.append(event)

    def _values(
        self,
        stream: _Stream,
        data: pgoutput.TupleData,
        bad: list[tuple[str, bytes, str]],
        *,
        key_only: bool = False,
        fill: dict[str, object] | None = None,
    ) -> dict[str, object]:
        """Column values of one tuple. Unchanged TOAST values are taken from ``fill``
        (the old row, under REPLICA IDENTITY FULL) or else left out: the log lacks them."""
        columns = stream.columns
        if len(data) != len(columns):
            raise CaptureError(
                f"connector {self.config.name}: a tuple of {stream.table.qualified} has "
                f"{len(data)} columns, its Relation message {len(columns)}"
            )
        values: dict[str, object] = {}
        for (name, identity, parse), raw in zip(stream.readers, data, strict=True):
            if key_only and not identity:
                continue
            if isinstance(raw, bytes):
                try:
                    values[name] = parse(raw)
                except Exception:  # convert() says what is wrong, or reads the value
                    values[name] = self._converted(stream.column(name), raw, bad)
            elif raw is None:
                values[name] = None
            elif fill is not None and name in fill:  # an unchanged TOAST value
                values[name] = fill[name]
        return values

    def _converted(self, col: _Column, raw: bytes, bad: list[tuple[str, bytes, str]]) -> object:
        """The value of text the fast parser refused; None and a dead letter if it is bad."""
        value = convert(raw, col.kind, self.config.encoding)
        if isinstance(value, BadValue):
            if not any(b[0] == col.name for b in bad):
                bad.append((col.name, raw, f"column {col.name}: {value.reason}"))
            return None
        return value

    def _message(self, message: pgoutput.LogicalMessage) -> None:
        if message.prefix != WATERMARK_PREFIX:
            return
        try:
            content = json.loads(message.content)
        except ValueError:
            return  # not ours to judge: someone else's message under our prefix
        if (
            not isinstance(content, dict)
            or content.get("connector") != self.config.name
            or content.get("kind") not in ("low", "high")
        ):
            return
        if message.transactional:
            seq = self._transaction("a transactional message").next_seq()
        else:
            seq = message.lsn << 20
        self._pending.append(Watermark(content["kind"], str(content.get("chunk")), seq))


def _primary_key(cur: Cursor, oid: int) -> tuple[str, ...]:
    cur.execute(
        "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = %s AND i.indisprimary",
        (oid,),
    )
    return tuple(str(r[0]) for r in cur.fetchall())


def _status_interval(cur: Cursor) -> float:
    """Seconds between status updates: a quarter of wal_sender_timeout, 1 to 10 s."""
    cur.execute("SELECT setting::int FROM pg_settings WHERE name = 'wal_sender_timeout'")
    timeout_ms = int(fetch_one(cur)[0])
    if timeout_ms <= 0:
        return 10.0
    return min(10.0, max(1.0, timeout_ms / 4000))


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
