"""A server stream's TableMapEvents parsed once per distinct event body, not once per event.

Every transaction maps its tables again before its rows: on a hospital's workload of small
transactions that is about one TableMapEvent per rows event, and pymysqlreplication's parse of
one (Column objects, optional metadata, two Table objects) cost as much as the rows it
describes once rows were decoded by ``row_decode``.

The library skips the parse of a TableMapEvent whose table id is already in its ``table_map``
when told ``freeze_schema=True``. Freezing alone would trust a table id forever, which is
wrong after an ALTER that keeps the id or a server restart that reuses it. So the stream's
connection (``hooked_connection``, the library's ``pymysql_wrapper``) shows every TableMap
packet to ``TableMaps.seen`` before the library reads it: when its body (table id, names,
column types and metadata, everything but the header and checksum) equals one already parsed,
the parsed table goes into the library's ``table_map`` (the library then skips it, and the
stream re-applies the parsed event from ``pending``); any other body takes the table id out
of ``table_map``, so the library parses it as without freezing, and ``parsed`` remembers it.
Same bytes, same table: nothing is trusted that the packet does not repeat.
"""

from __future__ import annotations

import zlib
from typing import Any

from pymysql.connections import Connection
from pymysql.cursors import Cursor
from pymysql.protocol import MysqlPacket

_TABLE_MAP_EVENT = 19
_HEADER_END = 20  # OK marker byte + the 19-byte event header
_BODIES_MAX = 4096  # distinct table maps remembered (a server's tables × their layouts)

Parsed = tuple[Any, list[str | None]]  # the library's TableMapEvent, its columns' charsets


class TableMaps:
    """The parsed TableMapEvents of one server stream, by event body (module docstring)."""

    def __init__(self) -> None:
        self._parsed: dict[bytes, Parsed] = {}
        self._missed: dict[int, bytes] = {}  # table id → body the library is parsing
        self._reader: Any = None
        self.pending: list[Parsed] = []  # skipped by the library, to apply in order
        self.reused = 0

    def attach(self, reader: Any) -> None:
        """Serve this ``BinLogStreamReader`` (a new one after each reconnect)."""
        self._reader = reader
        self._missed.clear()
        self.pending.clear()

    def seen(self, data: bytes) -> None:
        """A TableMap packet arrived, before the library reads it."""
        reader = self._reader
        if reader is None:
            return
        end = len(data)
        if end >= _HEADER_END + 4 and zlib.crc32(data[1:-4]) == int.from_bytes(data[-4:], "little"):
            end -= 4  # CRC32 checksum: it covers the header, which differs every time
        body = data[_HEADER_END:end]
        table_id = int.from_bytes(body[:6], "little")
        parsed = self._parsed.get(body)
        if parsed is None:
            reader.table_map.pop(table_id, None)  # the library parses this one
            self._missed[table_id] = body
            return
        reader.table_map[table_id] = parsed[0].get_table()
        self.pending.append(parsed)
        self.reused += 1

    def parsed(self, event: Any, charsets: list[str | None]) -> None:
        """The library parsed ``event`` (``charsets`` read before anything changed it)."""
        body = self._missed.pop(event.table_id, None)
        if body is None:
            return
        if len(self._parsed) >= _BODIES_MAX:
            self._parsed.clear()
        self._parsed[body] = (event, charsets)


class _HookedConnection(Connection):  # (generic in the type stubs only)
    """PyMySQL's connection, showing binlog TableMap packets to ``table_maps`` first."""

    table_maps: TableMaps | None = None  # set once connected: the handshake is not binlog

    def _read_packet(self, packet_type: type[MysqlPacket] = MysqlPacket) -> MysqlPacket:
        packet: MysqlPacket = super()._read_packet(packet_type)  # type: ignore[no-untyped-call]
        maps = self.table_maps
        if maps is not None:
            data: bytes = packet.get_all_data()  # type: ignore[no-untyped-call]
            if len(data) > _HEADER_END and data[0] == 0 and data[5] == _TABLE_MAP_EVENT:
                maps.seen(data)
        return packet


def hooked_connection(table_maps: TableMaps) -> Any:
    """The library's ``pymysql_wrapper``: connections that report TableMap packets."""

    def connect(**settings: Any) -> Connection[Cursor]:
        connection = _HookedConnection(**settings)
        connection.table_maps = table_maps
        return connection

    return connect
