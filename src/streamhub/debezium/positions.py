"""A Debezium event's log position as the envelope's ``position`` text and ``position_seq``.

``position_seq`` versions a row downstream (ReplacingMergeTree's version column, the
reconciler's version ids): for one source row it must grow with every change. The agent's
forms (``capture/postgres/log_reader.py``, ``capture/mysql/translator.py``) are a log
position shifted left with an index below it. Debezium's forms follow the same idea from what
its ``source`` block carries; they are compared only with versions of the same source (a
source is captured by one engine), never across engines.

* PostgreSQL: ``lsn`` (the change's own WAL position; every change of a row lies after the
  commit of the row's previous change) ``<< 20``. Snapshot reads carry the snapshot's LSN,
  below every change streamed after it.
* MySQL/MariaDB: binlog file number, event position and row index:
  ``file << 44 | pos << 12 | row`` (files up to 2**19, positions up to 4 GiB, 4,095 rows per
  rows event, far above what ``binlog-row-event-max-size`` lets into one event). The GTID,
  when there is one, is the position text and the transaction id. A failover to a server with
  other binlog names restarts the numbering: re-snapshot, as Debezium's own offsets require.
* Oracle: ``scn << 15 | order`` where order is the event's place in its transaction
  (``transaction.total_order`` when ``provide.transaction.metadata`` is on, else 0): SCNs up
  to 2**48, Oracle's SCN limit before 12.2.
* SQL Server: ``change_lsn`` ``VLF:block:slot`` packed as ``vlf << 39 | block << 16 | slot``
  (VLF sequence numbers up to 2**24, blocks up to 2**23); ``event_serial_no`` orders the two
  halves of one update, which Debezium has already merged into one event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from streamhub.debezium.normalize_errors import PositionError

MAX_SEQ: Final = (1 << 63) - 1
_BINLOG_FILE = re.compile(r".*\.(\d+)$")
_SQLSERVER_LSN = re.compile(r"^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{4})$")


@dataclass(frozen=True, slots=True)
class Position:
    text: str  # what an operator reads: LSN, GTID, file:pos, SCN, change LSN
    seq: int  # the version: grows with every change of one source row
    txid: str | None


def format_lsn(lsn: int) -> str:
    """A PostgreSQL LSN as PostgreSQL prints it (``16/B374D848``)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def _int(source: Mapping[str, Any], name: str) -> int:
    value = source.get(name)
    if isinstance(value, bool):
        raise PositionError(f"source.{name} is a boolean, expected a number")
    try:
        return int(value)  # type: ignore[arg-type]  # checked below by the exception
    except (TypeError, ValueError):
        raise PositionError(
            f"source.{name} is missing or not a number (got a {type(value).__name__})"
        ) from None


def _checked(seq: int, what: str) -> int:
    if not 0 <= seq <= MAX_SEQ:
        raise PositionError(f"{what} does not fit the envelope's 64-bit version")
    return seq


def _txid(source: Mapping[str, Any], name: str) -> str | None:
    value = source.get(name)
    return None if value is None else str(value)


def postgres_position(source: Mapping[str, Any], _payload: Mapping[str, Any]) -> Position:
    lsn = _int(source, "lsn")
    text = format_lsn(lsn)
    return Position(text, _checked(lsn << 20, f"LSN {text}"), _txid(source, "txId"))


def mysql_position(source: Mapping[str, Any], _payload: Mapping[str, Any]) -> Position:
    file = source.get("file")
    match = _BINLOG_FILE.match(file) if isinstance(file, str) else None
    if match is None:
        raise PositionError("source.file is missing or not a binlog file name (name.NNNNNN)")
    number, pos, row = int(match.group(1)), _int(source, "pos"), _int(source, "row")
    if number >= 1 << 19 or not 0 <= pos < 1 << 32 or row < 0:
        raise PositionError(f"binlog position {file}:{pos} does not fit the envelope's version")
    seq = number << 44 | pos << 12 | min(row, 0xFFF)
    gtid = source.get("gtid")
    text = str(gtid) if gtid else f"{file}:{pos}:{row}"
    return Position(text, seq, str(gtid) if gtid else None)


def oracle_position(source: Mapping[str, Any], payload: Mapping[str, Any]) -> Position:
    scn = _int(source, "scn")
    transaction = payload.get("transaction")
    order = 0
    if isinstance(transaction, Mapping) and transaction.get("total_order") is not None:
        order = min(_int(transaction, "total_order"), (1 << 15) - 1)
    if not 0 <= scn < 1 << 48:
        raise PositionError(f"SCN {scn} does not fit the envelope's version (below 2**48)")
    return Position(str(scn), scn << 15 | order, _txid(source, "txId"))


def sqlserver_position(source: Mapping[str, Any], _payload: Mapping[str, Any]) -> Position:
    change_lsn = source.get("change_lsn")
    match = _SQLSERVER_LSN.match(change_lsn) if isinstance(change_lsn, str) else None
    if match is None:
        # a snapshot read has no change LSN: it sits at the snapshot's commit LSN
        change_lsn = source.get("commit_lsn")
        match = _SQLSERVER_LSN.match(change_lsn) if isinstance(change_lsn, str) else None
    if match is None or not isinstance(change_lsn, str):
        raise PositionError("source.change_lsn and source.commit_lsn are missing or not LSNs")
    vlf, block, slot = (int(part, 16) for part in match.groups())
    if vlf >= 1 << 24 or block >= 1 << 23:
        raise PositionError(f"LSN {change_lsn} does not fit the envelope's version")
    return Position(change_lsn, vlf << 39 | block << 16 | slot, _txid(source, "commit_lsn"))


#: Debezium's ``source.connector`` → how its position becomes the envelope's
POSITIONS: Final = {
    "postgresql": postgres_position,
    "mysql": mysql_position,
    "mariadb": mysql_position,
    "oracle": oracle_position,
    "sqlserver": sqlserver_position,
}


def position_of(source: Mapping[str, Any], payload: Mapping[str, Any]) -> Position:
    connector = source.get("connector")
    reader = POSITIONS.get(connector) if isinstance(connector, str) else None
    if reader is None:
        raise PositionError(
            f"source.connector {connector!r} is not one the normalizer knows "
            f"({', '.join(sorted(POSITIONS))})"
        )
    return reader(source, payload)
