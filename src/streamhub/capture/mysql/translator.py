"""Binlog events → model events for one connector (used only by the stream thread).

Positions: ``position_seq = seq << 20 | index in the transaction`` (``| 0xFFFFF`` for its
``TransactionEnd``), so it grows within a GTID domain (sequence numbers of different domains are
unrelated; see ``gtid`` for ``position`` and ``resume``). ``commit_ts_ms`` has the binlog's
one-second resolution. Rows past the 2**20 - 2nd of one transaction share its last
position_seq. Transactions without captured rows still advance the position: their
``TransactionEnd`` is sent at most once per ``heartbeat_s``.

A large transaction does not wait for its commit to be resumable: every
``MID_TRANSACTION_ROWS`` indexes (after a whole rows event) a ``TransactionEnd`` marks a resume
point inside it, ``<position before it>+<its GTID>#<index>``. The task checkpoints there like at
any end; a restart from it re-reads the transaction from its GTID and drops the events whose
index is below ``<index>`` (indexes are assigned the same way on every read), so a crash in a
500,000-row commit repeats at most the changes after the last stored point.

Raw text: pymysqlreplication decodes CHAR/VARCHAR/TEXT in ``RowsEvent.__read_string`` as
``bytes.decode(self.charset_to_encoding(column.character_set_name), "strict")``; latin1 becomes
cp1252, which raises on 0x81/0x8D/0x8F/0x90/0x9D, and no option returns bytes
(``ignore_decode_errors`` drops them). So when a captured table's TableMapEvent arrives (before
its rows are parsed: rows decode lazily, on ``.rows``), ``carry_bytes`` sets each string
column's ``character_set_name`` to Python's ``latin-1``, which maps every byte to the code point
of the same value: ``value.encode("latin-1")`` gives back exactly the binlog's bytes, decoded by
``types.ValuePlan`` with the charset read from the TableMapEvent first. Only the Column objects
of this reader's own stream change; nothing in the library is patched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymysqlreplication.event import (
    GtidEvent,
    HeartbeatLogEvent,
    MariadbGtidEvent,
    QueryEvent,
    XidEvent,
)
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    TableMapEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.errors import CaptureError, UndecodableTextError
from streamhub.capture.keychange import split_key_change
from streamhub.capture.model import (
    ColumnInfo,
    Event,
    Op,
    RowEvent,
    TableInfo,
    TransactionEnd,
    UndecodableValue,
    Watermark,
)
from streamhub.capture.mysql import row_decode, types
from streamhub.capture.mysql.catalog import CatalogColumn
from streamhub.capture.mysql.gtid import GtidPosition
from streamhub.capture.mysql.row_decode import NO_BAD, DecodedRow, RowDecoder, library_rows
from streamhub.capture.mysql.watermarks import (
    WATERMARK_SCHEMA,
    WATERMARK_TABLE,
    watermark_chunk_id,
)
from streamhub.core.clock import Clock

_CARRIER = "latin-1"  # Python's ISO-8859-1: byte n <-> U+00nn, so text round-trips to bytes
_INDEX_MAX = 0xFFFFE  # 0xFFFFF is the TransactionEnd's
MID_TRANSACTION_ROWS = 10_000  # a large transaction gets a resume point this often
_FL_STANDALONE = 0x01  # MariaDB GTID flag: no XID/COMMIT follows (DDL)


@dataclass
class _Table:
    info: TableInfo
    # (name, value → model value) in binlog column order; text arrives latin-1-carried
    converters: list[tuple[str, Callable[[object], object]]]
    watermark: bool = False
    # rows events of this layout are decoded by ``decoder``; without one (a column type it
    # does not cover: ``no_decoder`` says which) by the library, through ``converters``
    decoder: RowDecoder | None = None
    no_decoder: str = "no decoder"


def _charset(column: Any) -> str | None:
    """The MySQL charset of a binlog column, before ``carry_bytes`` touches it."""
    if column.collation_name:
        return str(column.collation_name).split("_")[0]  # latin1_swedish_ci, binary
    encoding = column.character_set_name  # the library's codec name: cp1252 means latin1
    if encoding is None:
        return None
    return {"cp1252": "latin1", "utf8": "utf8mb4"}.get(str(encoding), str(encoding))


def charsets_of(event: Any) -> list[str | None]:
    """The MySQL charset of each column of a TableMapEvent, read before ``carry_bytes``."""
    return [_charset(c) for c in event.columns]


def carry_bytes(columns: list[Any]) -> None:
    """Make the library decode the table's string columns as latin-1 (module docstring)."""
    for column in columns:
        if column.type in types.STRING_FIELD_TYPES:
            column.character_set_name = _CARRIER


def split_resume(resume: str) -> tuple[str, tuple[str, int] | None]:
    """``position`` or ``position+gtid#index`` (a resume point inside the transaction
    ``gtid``: its changes before ``index`` are in Kafka) → (position, (gtid, index))."""
    if "+" not in resume:
        return resume, None
    committed, _, within = resume.partition("+")
    gtid, _, index = within.partition("#")
    if not gtid or not index.isdigit():
        raise ValueError(f"{within!r} is not gtid#index")
    return committed, (gtid, int(index))


class BinlogTranslator:
    """Binlog events → model events for one connector; used only by the stream thread."""

    def __init__(
        self,
        config: ConnectorConfig,
        start: str,
        describe_table: Callable[[str], list[CatalogColumn]],
        clock: Clock,
    ) -> None:
        self._config = config
        self._database = self.database = config.connection.database
        self._wanted = self.tables = frozenset(config.tables)
        self._describe = describe_table
        self._clock = clock
        committed, self._within = split_resume(start)
        self.position = GtidPosition(committed, config.engine == "mariadb")
        self._by_id: dict[int, _Table] = {}
        self._layouts: dict[tuple[str, str], tuple[object, _Table]] = {}
        # the last TableMapEvent object per table id and what it gave: a stream hands the same
        # object again for the same bytes (table_maps)
        self._mapped: dict[int, tuple[object, _Table | None]] = {}
        self._gtid: str | None = None
        self._seq = 0
        self._index = 0
        self._standalone = False
        self._emitted = False
        self._begin_ts = 0
        self._quiet_end: TransactionEnd | None = None  # a commit without rows, not yet sent
        self._last_end = clock.monotonic()
        self._marked = 0  # index of the last mid-transaction resume point sent

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
            if self.table_map(event, charsets_of(event)):
                carry_bytes(event.columns)
            return []
        if isinstance(event, WriteRowsEvent | UpdateRowsEvent | DeleteRowsEvent):
            return self._rows(event)
        if isinstance(event, HeartbeatLogEvent):
            return self.idle()
        return []

    def skip(self) -> list[Event]:
        """A transaction this connector already has begins (a shared stream re-reads it):
        close an open DDL transaction as the next GTID would, and forget the rest."""
        done = self._commit(self._begin_ts) if self._gtid is not None and self._standalone else []
        self._gtid = None
        return done

    def idle(self) -> list[Event]:
        """Send a held-back TransactionEnd once the source has been quiet for heartbeat_s."""
        if (
            self._quiet_end is None
            or self._clock.monotonic() - self._last_end < self._config.heartbeat_s
        ):
            return []
        end, self._quiet_end = self._quiet_end, None
        self._last_end = self._clock.monotonic()
        return [end]

    def _begin(self, gtid: str, seq: int, standalone: bool) -> list[Event]:
        # a transaction without COMMIT before the next GTID ends there; a library reconnect
        # re-sends the open transaction from its GTID, which simply starts it again
        ended = self._gtid not in (None, gtid) and self._standalone
        done = self._commit(self._begin_ts) if ended else []
        self._gtid, self._seq, self._index, self._marked = gtid, seq, 0, 0
        self._standalone, self._emitted = standalone, False
        return done

    def _commit(self, timestamp: int) -> list[Event]:
        if self._gtid is None:
            return []
        self.position.commit(self._gtid)
        end = TransactionEnd(self.position.resume, (self._seq << 20) | 0xFFFFF, timestamp * 1000)
        if self._within is not None and self._within[0] == self._gtid:
            self._within = None  # the interrupted transaction is complete now
        self._gtid = None
        now = self._clock.monotonic()
        if not self._emitted and now - self._last_end < self._config.heartbeat_s:
            self._quiet_end = end
            return []
        self._quiet_end = None
        self._last_end = now
        return [end]

    def _next_seq(self) -> int:
        index = self._index
        self._index = min(self._index + 1, _INDEX_MAX)
        return (self._seq << 20) | index

    def wants(self, schema: str, table: str) -> bool:
        """Whether this connector reads the rows of ``schema.table`` (watermarks included)."""
        if (schema, table) == (WATERMARK_SCHEMA, WATERMARK_TABLE):
            return True
        return schema == self._database and table in self._wanted

    def table_map(self, event: Any, charsets: list[str | None]) -> bool:
        """Take a TableMapEvent (``charsets`` read before ``carry_bytes``); True when this
        connector reads the table, so its string columns must be carried."""
        table_id: int = event.table_id
        seen = self._mapped.get(table_id)
        if seen is not None and seen[0] is event:
            if seen[1] is None:
                self._by_id.pop(table_id, None)
                return False
            self._by_id[table_id] = seen[1]
            return True
        name = (event.schema, event.table)
        watermark = name == (WATERMARK_SCHEMA, WATERMARK_TABLE)
        if not self.wants(event.schema, event.table):
            self._by_id.pop(event.table_id, None)
            self._mapped[event.table_id] = (event, None)
            return False
        columns = event.columns
        if any(c.name is None for c in columns):
            raise CaptureError(
                f"the binlog has no column names for {event.schema}.{event.table}: "
                "set binlog_row_metadata=FULL on the server (MariaDB ≥ 10.5, MySQL ≥ 8.0.14)"
            )
        nullable = [bool(event.null_bitmask[i // 8] & (1 << (i % 8))) for i in range(len(columns))]
        prefixed = event.optional_metadata.primary_keys_with_prefix or {}
        keys = {c.name for i, c in enumerate(columns) if c.is_primary or i in prefixed}
        layout = tuple(
            (
                c.name,
                c.type,
                charsets[i],
                getattr(c, "max_length", None),
                c.unsigned,
                nullable[i],
                row_decode.column_shape(c),
            )
            for i, c in enumerate(columns)
        )
        signature = (layout, tuple(sorted(keys)))
        cached = self._layouts.get(name)
        if cached is None or cached[0] != signature:
            table = self._build(event, charsets, nullable, keys, watermark)
            cached = (signature, table)
            self._layouts[name] = cached
        self._by_id[event.table_id] = cached[1]
        self._mapped[event.table_id] = (event, cached[1])
        return True

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
        converters, infos, plans = [], [], []
        for i, column in enumerate(event.columns):
            data_type = types.binlog_data_type(column.type, charsets[i])
            kind = types.kind_of(data_type, column.unsigned)
            text = data_type in types.TEXT_TYPES
            plan = types.ValuePlan(
                name=column.name,
                data_type=data_type,
                kind=kind,
                codec=types.text_codec(charsets[i], self._config.encoding) if text else None,
                octets=getattr(column, "max_length", None) if data_type == "binary" else None,
            )
            carried = column.type in types.STRING_FIELD_TYPES
            converters.append((column.name, types.converter(plan, carried)))
            plans.append(plan)
            source_type = data_type + (" unsigned" if column.unsigned else "")
            if same and catalog[i].info().kind == kind:
                source_type = catalog[i].column_type
            infos.append(
                ColumnInfo(column.name, source_type, kind, column.name in keys, nullable[i])
            )
        info = TableInfo(self._database, None, event.table, tuple(infos))
        decoder = RowDecoder.build(event.columns, plans)
        if isinstance(decoder, str):
            return _Table(info, converters, watermark, no_decoder=decoder)
        return _Table(info, converters, watermark, decoder)

    def _rows(self, event: Any) -> list[Event]:
        table = self._by_id.get(event.table_id)
        if table is None:
            return []
        if self._gtid is None:
            raise CaptureError(f"row event for {event.table} outside a GTID transaction")
        rows = self._decoded(table, event)
        out: list[Event] = []
        size = event.event_size // max(len(rows), 1)
        ts = event.timestamp * 1000
        op: Op = (
            "u"
            if isinstance(event, UpdateRowsEvent)
            else "c"
            if isinstance(event, WriteRowsEvent)
            else "d"
        )
        if table.watermark:
            for _, _, after, _ in rows:
                out.extend(self._watermark(op, after))
            return out
        for row in rows:
            self._row(out, table, op, row, ts, size)
        if self._within is not None and self._within[0] == self._gtid:
            done = self._within[1]  # delivered before the restart: the same indexes again
            out = [e for e in out if e.position_seq & 0xFFFFF >= done]
            self._marked = max(self._marked, done)
        if self._index - self._marked >= MID_TRANSACTION_ROWS and self._index < _INDEX_MAX:
            self._marked = self._index
            resume = f"{self.position.resume}+{self._gtid}#{self._index}"
            out.append(TransactionEnd(resume, (self._seq << 20) | (self._index - 1), ts))
        return out

    def _decoded(self, table: _Table, event: Any) -> list[DecodedRow]:
        """The event's rows as model values: by the table's decoder when it covers the event,
        else by the library (counted)."""
        why = table.no_decoder
        if table.decoder is not None:
            why = table.decoder.covers(event) or ""
            if not why:
                return table.decoder.decode(event)
        rows = event.rows
        library_rows().labels(table=table.info.full_name, reason=why).inc(len(rows))
        image = self._image
        if isinstance(event, UpdateRowsEvent):
            return [
                (*image(table, r["before_values"]), *image(table, r["after_values"])) for r in rows
            ]
        if isinstance(event, WriteRowsEvent):
            return [(None, NO_BAD, *image(table, r["values"])) for r in rows]
        return [(*image(table, r["values"]), None, NO_BAD) for r in rows]

    def _row(
        self, out: list[Event], table: _Table, op: Op, row: DecodedRow, ts: int, size: int
    ) -> None:
        gtid = self._gtid
        assert gtid is not None
        before, bad_before, after, bad_after = row
        seq = self._next_seq()
        if bad_before or bad_after:
            image = after if after is not None else before
            assert image is not None
            key = {k: image[k] for k in table.info.key_columns}
            # an unchanged bad value sits in both images of an update: report it once
            after_raws = {(name, exc.raw) for name, exc in bad_after}
            bad = bad_after + [(n, e) for n, e in bad_before if (n, e.raw) not in after_raws]
            out.extend(
                UndecodableValue(table.info, op, name, exc.raw, exc.reason, key, gtid, seq, ts)
                for name, exc in bad
            )
        event = RowEvent(table.info, op, before, after, gtid, seq, gtid, ts, size_bytes=size)
        if op == "u":  # the before image shows a key change: a delete of the old key, a create
            out.extend(split_key_change(event, self._next_seq))
        else:
            out.append(event)
        self._emitted = True

    def _image(
        self, table: _Table, values: dict[str, object] | None
    ) -> tuple[dict[str, object] | None, list[tuple[str, UndecodableTextError]]]:
        if values is None:
            return None, NO_BAD
        image: dict[str, object] = {}
        bad = NO_BAD
        get = values.get
        for name, convert in table.converters:
            try:
                image[name] = convert(get(name))
            except UndecodableTextError as exc:
                image[name] = None
                if bad is NO_BAD:
                    bad = []
                bad.append((name, exc))
        return image, bad

    def _watermark(self, op: Op, row: dict[str, object] | None) -> list[Event]:
        if op != "c" or row is None or row.get("connector") != self._config.name:
            return []
        kind = row.get("kind")
        if kind not in ("low", "high"):
            return []
        self._emitted = True
        chunk_id = watermark_chunk_id(str(row.get("id")))
        return [Watermark("low" if kind == "low" else "high", chunk_id, self._next_seq())]
