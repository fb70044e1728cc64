"""What a connector reports beside its changes: per-minute counts and row counts
(ops.source_counts), heartbeats (ops.heartbeat) and dead letters of rows it could not send
(dlq.capture).

The records go through the connector's emitter, so they are numbered for the
acknowledgement tracker like the changes: a checkpoint passes them only once Kafka has
them.
"""

from __future__ import annotations

import json
from typing import Any

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.counts import MINUTE_MS, WindowCounts
from streamhub.capture.emitter import Emitter
from streamhub.capture.envelope import row_key
from streamhub.capture.model import RowEvent, SourceHead, UndecodableValue
from streamhub.capture.snapshotting import table_id
from streamhub.core.clock import Clock, now_ms
from streamhub.core.identity import canonical_key_bytes
from streamhub.core.topic_names import HEARTBEAT, SOURCE_COUNTS


def counts_value(
    config: ConnectorConfig,
    window: WindowCounts,
    emitted_ts_ms: int,
    row_count: int | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """An ``ops.source_counts`` value: a minute's counts of a table, or (with ``at``) its
    row count at a log position."""
    database, _, table = window.table.partition(".")
    return {
        "connector": config.name,
        "institution_id": config.institution_id,
        "system": config.system,
        "database": database,
        "table": table,
        "window_start_ms": window.window_start_ms,
        "window_ms": MINUTE_MS,
        "inserts": window.inserts,
        "updates": window.updates,
        "deletes": window.deletes,
        "snapshot_reads": window.snapshot_reads,
        "row_count": row_count,
        "row_count_position": at,
        "emitted_ts_ms": emitted_ts_ms,
    }


class OpsRecords:
    def __init__(self, emitter: Emitter, config: ConnectorConfig, clock: Clock) -> None:
        self.emitter = emitter
        self.config = config
        self.clock = clock  # stamps emitted_ts_ms

    def counts(
        self, window: WindowCounts, row_count: int | None = None, at: str | None = None
    ) -> None:
        """A minute's counts of a table, or (with ``at``) its row count at a log position."""
        key: dict[str, Any] = {"connector": self.config.name, "table": window.table}
        key |= {"window": window.window_start_ms} if at is None else {"row_count_at": at}
        self.emitter.ops(
            SOURCE_COUNTS, key, counts_value(self.config, window, now_ms(self.clock), row_count, at)
        )

    def heartbeat(
        self,
        *,
        state: str,
        position: str | None,
        head: SourceHead,
        lag_ms: int | None,
        last_event_ms: int | None,
        events_total: int,
        errors_total: int,
    ) -> None:
        self.emitter.ops(
            HEARTBEAT,
            {"connector": self.config.name},
            {
                "connector": self.config.name,
                "institution_id": self.config.institution_id,
                "system": self.config.system,
                "engine": self.config.engine,
                "state": state,
                "position": position,
                "lag_bytes": head.bytes_behind,
                "lag_ms": lag_ms,
                "last_event_ts_ms": last_event_ms,
                "events_total": events_total,
                "errors_total": errors_total,
                "emitted_ts_ms": now_ms(self.clock),
            },
        )

    def table_stopped(self, table: str, why: str, event: RowEvent) -> None:
        """The dead letter of a change to a table stopped for a schema its Avro cannot follow."""
        self.emitter.dead_letter(
            reason=f"table stopped: {why}",
            error_type="UnrepresentableChange",
            table=table,
            key=None,
            raw=event_json(event),
        )

    def undecodable(self, event: UndecodableValue) -> None:
        """The dead letter of a value the connector's encoding cannot decode (the row itself
        was captured with the value null)."""
        self.emitter.dead_letter(
            reason=(
                f"column {event.column} of {table_id(event.table)} at {event.position}: "
                f"{event.reason}; the row was captured with this value null"
            ),
            error_type="UndecodableValue",
            table=table_id(event.table),
            key=canonical_key_bytes(row_key(event.table, event.key)),
            raw=event.raw,
        )


def minute_of(ms: int) -> int:
    """The start of the minute ``ms`` falls in."""
    return ms - ms % MINUTE_MS


def event_json(event: RowEvent) -> bytes:
    """A change as plain JSON, for a dead letter when its envelope cannot be built."""

    def plain(values: dict[str, object] | None) -> dict[str, object] | None:
        if values is None:
            return None
        return {
            k: v if isinstance(v, int | float | str | bool) or v is None else str(v)
            for k, v in values.items()
        }

    document = {
        "op": event.op,
        "table": table_id(event.table),
        "position": event.position,
        "before": plain(event.before),
        "after": plain(event.after),
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()
