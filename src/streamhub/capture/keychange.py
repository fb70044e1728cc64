"""A change of a row's primary key becomes a delete of the old key and a create of the new.

Downstream, a row is its key: ClickHouse keeps one live version per ``record_id`` (a hash
of institution, database, table and key). An update that only carried the new key would
leave the old key live beside the new one. So, as Debezium does, a key-changing update
leaves capture as two changes at the same log position: ``d`` with the old image (on
PostgreSQL under REPLICA IDENTITY DEFAULT only the old key, ``K``; the whole row under
FULL or with the binlog's before image), then ``c`` with the new row. Each gets its own
``position_seq`` from the reader's per-transaction index (the delete the update's own,
the create the next), so both order after every earlier version of their keys, replays
give identical versions, and the two never share a version id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from streamhub.capture.model import RowEvent, TableInfo


def key_changed(
    table: TableInfo, before: dict[str, object] | None, after: dict[str, object] | None
) -> bool:
    """Whether an update moved the row to another key (a key column absent from either
    image, e.g. an unchanged TOAST value, is not taken as a change)."""
    if before is None or after is None:
        return False
    return any(
        name in before and name in after and before[name] != after[name]
        for name in table.key_columns
    )


def split_key_change(event: RowEvent, next_seq: Callable[[], int]) -> list[RowEvent]:
    """``[event]``, or for a key-changing update ``[delete old key, create new key]``;
    ``next_seq`` gives the create its own position_seq, right after the update's."""
    if event.op != "u" or not key_changed(event.table, event.before, event.after):
        return [event]
    delete = replace(event, op="d", after=None)
    create = replace(event, op="c", before=None, position_seq=next_seq())
    return [delete, create]
