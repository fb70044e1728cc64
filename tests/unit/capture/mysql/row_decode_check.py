"""Holding the compiled row decoder to pymysqlreplication's values, event by event.

Shared by the unit test (recorded packets replayed through the library) and the integration
test (a live binlog stream from the stack's MariaDB). For a rows event, ``differences`` decodes
its rows twice, with the table's ``RowDecoder`` and with the library through the translator's
converters (the path every row took before the decoder existed), and lists every difference:
a value (compared by type and repr, so Decimal('1.50') differs from Decimal('1.5')), an
undecodable value (column, bytes, reason) or the envelope bytes written from the two.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pymysqlreplication.row_event import TableMapEvent, UpdateRowsEvent, WriteRowsEvent

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.envelope_codec import EnvelopeEncoder
from streamhub.capture.model import Op, RowEvent
from streamhub.capture.mysql.row_decode import DecodedRow
from streamhub.capture.mysql.translator import BinlogTranslator, carry_bytes, charsets_of
from streamhub.core.clock import ManualClock


def connector(database: str, tables: list[str]) -> ConnectorConfig:
    return ConnectorConfig.model_validate(
        {
            "name": "row-decode",
            "institution_id": "123502001549897397",
            "system": "his",
            "engine": "mariadb",
            "connection": {
                "host": "127.0.0.1",
                "port": 1,
                "database": database,
                "user": "capture",
                "password_env": "UNUSED",
            },
            "mysql": {"server_id": 4242},
            "tables": tables,
            "profile": "pinyin_gbk",
            "encoding": "gbk",
        }
    )


class Checker:
    """A translator fed the stream's TableMapEvents, comparing the two decodings of rows."""

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self.translator = BinlogTranslator(config, "0-1-1", lambda _: [], ManualClock())
        self.rows = 0
        self.events = 0

    def table_map(self, event: TableMapEvent) -> None:
        if self.translator.table_map(event, charsets_of(event)):
            carry_bytes(event.columns)

    def differences(self, event: Any) -> list[str]:
        """What differs between the decoder's rows of ``event`` and the library's."""
        table = self.translator._by_id.get(event.table_id)
        if table is None:
            return []
        assert table.decoder is not None, f"{event.table}: no decoder ({table.no_decoder})"
        assert table.decoder.covers(event) is None
        ours = table.decoder.decode(event)  # reads the packet without moving it
        library = self.translator._decoded(dataclasses.replace(table, decoder=None), event)
        self.events += 1
        self.rows += len(library)
        found = [f"{event.table}: {len(ours)} rows, the library {len(library)}"]
        if len(ours) == len(library):
            found = []
        op: Op = (
            "u"
            if isinstance(event, UpdateRowsEvent)
            else "c"
            if isinstance(event, WriteRowsEvent)
            else "d"
        )
        encoder = EnvelopeEncoder(self.config, table.info, 1, "subject")
        for n, (mine, theirs) in enumerate(zip(ours, library, strict=False)):
            where = f"{event.table} row {n}"
            found += _row_differences(where, mine, theirs)
            if _envelope(encoder, table.info, op, mine) != _envelope(
                encoder, table.info, op, theirs
            ):
                found.append(f"{where}: envelope bytes differ")
        return found


def _shown(value: object) -> tuple[str, str]:
    return type(value).__name__, repr(value)


def _row_differences(where: str, mine: DecodedRow, theirs: DecodedRow) -> list[str]:
    found = []
    for side, a, b in (("before", mine[0], theirs[0]), ("after", mine[2], theirs[2])):
        if (a is None) != (b is None):
            found.append(f"{where} {side}: image {a!r} against {b!r}")
            continue
        if a is None or b is None:
            continue
        if list(a) != list(b):
            found.append(f"{where} {side}: columns {list(a)} against {list(b)}")
        found += [
            f"{where} {side} {name}: {_shown(a[name])} against {_shown(b.get(name))}"
            for name in a
            if _shown(a[name]) != _shown(b.get(name))
        ]
    for side, bad_a, bad_b in (("before", mine[1], theirs[1]), ("after", mine[3], theirs[3])):
        seen_a = [(name, e.raw, e.reason) for name, e in bad_a]
        seen_b = [(name, e.raw, e.reason) for name, e in bad_b]
        if seen_a != seen_b:
            found.append(f"{where} {side} undecodable: {seen_a} against {seen_b}")
    return found


def _envelope(encoder: EnvelopeEncoder, info: Any, op: Op, row: DecodedRow) -> bytes:
    event = RowEvent(info, op, row[0], row[2], "0-1-2", 2, "0-1-2", 1000)
    return encoder.encode(event, 1000) + encoder.key(event)
