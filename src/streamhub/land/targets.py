"""Where each topic's records land: the table, its columns and how a record becomes a row.

A target is a table the lander writes; a route maps a topic to a target. std entities land
every model field plus their Kafka position; ops events land their Avro fields (dead letters
without original_key/original_value: those hold personal data in clear and stay on Kafka).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streamhub.land.tables import entity_columns, table_name
from streamhub.standardize.model import ENTITY_MODELS, std_topic

KAFKA_COLUMNS = ("_topic", "_partition", "_offset")

OPS_FIELDS: dict[str, tuple[str, ...]] = {
    "ops_quality": (
        "institution_id",
        "system",
        "table",
        "record_key",
        "entity",
        "field",
        "rule",
        "dimension",
        "severity",
        "message",
        "observed",
        "position",
        "event_ts_ms",
    ),
    "ops_source_counts": (
        "connector",
        "institution_id",
        "system",
        "database",
        "table",
        "window_start_ms",
        "window_ms",
        "inserts",
        "updates",
        "deletes",
        "snapshot_reads",
        "row_count",
        "row_count_position",
        "emitted_ts_ms",
    ),
    "ops_heartbeat": (
        "connector",
        "institution_id",
        "system",
        "engine",
        "state",
        "position",
        "lag_bytes",
        "lag_ms",
        "last_event_ts_ms",
        "events_total",
        "errors_total",
        "emitted_ts_ms",
    ),
    "ops_landed_counts": (
        "institution_id",
        "system",
        "table",
        "entity",
        "window_start_ms",
        "window_ms",
        "upserts",
        "deletes",
        "landed_ts_ms",
        "database",
        "repair_id",
    ),
    "ops_dead_letters": (
        "stage",
        "reason",
        "error_type",
        "institution_id",
        "table",
        "original_topic",
        "original_partition",
        "original_offset",
        "failed_ts_ms",
        "system",
        "database",
        "commit_ts_ms",
        "record_id",
        "version",
    ),
    "ops_reconciliation": (
        "institution_id",
        "system",
        "table",
        "window_start_ms",
        "window_end_ms",
        "source_changes",
        "standardized",
        "dead_lettered",
        "landed",
        "status",
        "difference",
        "detail",
        "checked_ts_ms",
        "database",
        "duplicates",
        "revision",
        "repaired",
    ),
    "ops_anomaly": (
        "anomaly_id",
        "institution_id",
        "system",
        "table",
        "metric",
        "kind",
        "observed",
        "expected",
        "lower",
        "upper",
        "score",
        "window_start_ms",
        "detected_ts_ms",
        "connector",
        "severity",
        "start_ms",
        "end_ms",
        "recovered_kind",
        "suppressed",
        "suppression",
        "detail",
    ),
}
# Fields added to an ops schema after records were written without them: such records land
# with the schema's default. Every other field is required (a missing one is a dead letter).
OPTIONAL_FIELDS: dict[str, dict[str, Any]] = {
    "ops_landed_counts": {"database": None, "repair_id": None},
    "ops_dead_letters": {
        "system": None,
        "database": None,
        "commit_ts_ms": None,
        "record_id": None,
        "version": None,
    },
    "ops_reconciliation": {"database": None, "duplicates": 0, "revision": 0, "repaired": 0},
    "ops_anomaly": {
        "connector": None,
        "severity": None,
        "start_ms": None,
        "end_ms": None,
        "recovered_kind": None,
        "suppressed": False,
        "suppression": None,
        "detail": None,
    },
}
# Fields deliberately not landed: dead letters' originals hold personal data in clear (level 4).
# position_seq is there for the reconciler to version capture's letters (it has the key);
# landed, it would be a log position without the key it belongs to.
NOT_LANDED = {
    "ops_dead_letters": ("original_key", "original_value", "position_seq"),
    # version ids: thousands per event; the reconciler reads them on Kafka
    "ops_landed_counts": ("versions",),
}

DEFAULT_ROUTES: dict[str, str] = {
    **{std_topic(entity): entity for entity in ENTITY_MODELS},
    "ops.quality": "ops_quality",
    "ops.source_counts": "ops_source_counts",
    "ops.heartbeat": "ops_heartbeat",
    "ops.landed_counts": "ops_landed_counts",
    "dlq.capture": "ops_dead_letters",
    "dlq.standardize": "ops_dead_letters",
    "dlq.land": "ops_dead_letters",
    "ops.reconciliation": "ops_reconciliation",
    "ops.anomaly": "ops_anomaly",
}


@dataclass(frozen=True)
class Target:
    name: str  # an entity (std_<entity>) or an ops table name
    table: str
    fields: tuple[str, ...]  # record fields, in column order
    entity: str | None  # set for std entities: their landings are counted in ops.landed_counts
    defaults: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.fields, *KAFKA_COLUMNS)

    def row(self, value: Mapping[str, Any], topic: str, partition: int, offset: int) -> list[Any]:
        """The row of one decoded record; KeyError when it lacks a required column's field."""
        defaults = self.defaults
        return [
            *(
                value[name] if name in value or name not in defaults else defaults[name]
                for name in self.fields
            ),
            topic,
            partition,
            offset,
        ]


def _entity_target(entity: str) -> Target:
    fields = tuple(c for c in entity_columns(entity) if c not in KAFKA_COLUMNS)
    return Target(entity, table_name(entity), fields, entity)


TARGETS: dict[str, Target] = {
    **{entity: _entity_target(entity) for entity in ENTITY_MODELS},
    **{
        name: Target(name, name, fields, None, OPTIONAL_FIELDS.get(name, {}))
        for name, fields in OPS_FIELDS.items()
    },
}


def parse_route(text: str) -> tuple[str, str]:
    """``topic=target`` or a catalogue topic name (``std.encounter``) → (topic, target)."""
    topic, sep, target = text.partition("=")
    if not sep:
        target = DEFAULT_ROUTES.get(topic, "")
    if target not in TARGETS:
        known = ", ".join(sorted(TARGETS))
        raise ValueError(f"{text!r}: no target table; give topic=TARGET with TARGET one of {known}")
    return topic, target
