"""TableMapEvents are parsed once per distinct body: the same bytes reuse the parsed event,
anything else (another layout under the same table id) is parsed again by the library."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

from pymysqlreplication.row_event import TableMapEvent

from streamhub.capture.mysql.table_maps import TableMaps
from streamhub.capture.mysql.translator import charsets_of

from .test_row_decode import RECORDED, replay


def table_map_packets() -> list[bytes]:
    packets = [base64.b64decode(p) for p in json.loads(RECORDED.read_text())["packets"]]
    return [p for p in packets if p[5] == 19]  # TABLE_MAP_EVENT


def test_the_same_body_under_another_header_reuses_the_parsed_event() -> None:
    first, second, *_ = table_map_packets()
    assert first[20:-4] == second[20:-4] and first[:20] != second[:20]  # log_pos, checksum
    parsed = next(e for e in replay() if isinstance(e, TableMapEvent))
    reader = SimpleNamespace(table_map={parsed.table_id: "stale"})
    maps = TableMaps()
    maps.attach(reader)

    maps.seen(first)  # never parsed: the library must parse it
    assert parsed.table_id not in reader.table_map and maps.pending == []
    maps.parsed(parsed, charsets_of(parsed))

    maps.seen(second)
    assert reader.table_map[parsed.table_id] is parsed.get_table()
    assert maps.pending == [(parsed, charsets_of(parsed))] and maps.reused == 1


def test_a_changed_body_under_the_same_table_id_is_parsed_again() -> None:
    first, second, *_ = table_map_packets()
    parsed = next(e for e in replay() if isinstance(e, TableMapEvent))
    reader = SimpleNamespace(table_map={})
    maps = TableMaps()
    maps.attach(reader)
    maps.seen(first)
    maps.parsed(parsed, charsets_of(parsed))
    reader.table_map[parsed.table_id] = parsed.get_table()  # as the library keeps it

    changed = bytearray(second)
    changed[-30] ^= 0x01  # a byte of the column metadata (the checksum no longer matches)
    maps.seen(bytes(changed))
    assert parsed.table_id not in reader.table_map and maps.pending == []


def test_a_new_reader_starts_without_pending_maps() -> None:
    first, second, *_ = table_map_packets()
    parsed = next(e for e in replay() if isinstance(e, TableMapEvent))
    maps = TableMaps()
    maps.attach(SimpleNamespace(table_map={}))
    maps.seen(first)
    maps.parsed(parsed, charsets_of(parsed))
    maps.seen(second)
    fresh = SimpleNamespace(table_map={})
    maps.attach(fresh)  # a reconnect: what the old reader had pending is its own
    assert maps.pending == []
    maps.seen(second)  # the parsed body is still known
    assert fresh.table_map[parsed.table_id] is parsed.get_table()
