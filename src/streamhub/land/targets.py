"""Where each topic's records land: the table, its columns and how a record becomes a row.

A target is a table the lander writes; a route maps a topic to a target. std entities land
every model field plus their Kafka position; ops events land their Avro fields (dead letters
without original_key/original_value: those hold personal data in clear and stay on Kafka).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from streamhub.catalog.load import load_schema
from streamhub.core import topic_names as topics
from streamhub.land.tables import entity_columns, table_name
from streamhub.standardize.model import ENTITY_MODELS, std_topic

KAFKA_COLUMNS = ("_topic", "_partition", "_offset")

#: The schemas the code was written against: they ship with it, beside src/.
AVRO_DIR = Path(__file__).resolve().parents[3] / "avro_schemas"

#: Each ops table lands the records of one ops schema.
OPS_SCHEMAS: dict[str, str] = {
    "ops_quality": "ops/quality.avsc",
    "ops_source_counts": "ops/source_counts.avsc",
    "ops_heartbeat": "ops/heartbeat.avsc",
    "ops_landed_counts": "ops/landed_counts.avsc",
    "ops_dead_letters": "ops/dead_letter.avsc",
    "ops_reconciliation": "ops/reconciliation.avsc",
    "ops_anomaly": "ops/anomaly.avsc",
}
# Fields deliberately not landed: dead letters' originals hold personal data in clear (level 4).
# position_seq is there for the reconciler to version capture's letters (it has the key);
# landed, it would be a log position without the key it belongs to.
NOT_LANDED = {
    "ops_dead_letters": ("original_key", "original_value", "position_seq"),
    # version ids: thousands per event; the reconciler reads them on Kafka
    "ops_landed_counts": ("versions",),
    # why a connector is not streaming: for link health, read from Kafka
    "ops_heartbeat": ("error",),
}
# Fields added to an ops schema after records were written without them: such records land
# with the schema's default. Every other field is required (a missing one is a dead letter).
ADDED_LATER: dict[str, tuple[str, ...]] = {
    "ops_landed_counts": ("database", "repair_id"),
    "ops_dead_letters": ("system", "database", "commit_ts_ms", "record_id", "version"),
    "ops_reconciliation": ("database", "duplicates", "revision", "repaired"),
    "ops_anomaly": (
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


def _ops_fields(table: str, schema: dict[str, Any]) -> tuple[str, ...]:
    """The landed fields of an ops table: its schema's fields, in their order."""
    skipped = NOT_LANDED.get(table, ())
    return tuple(f["name"] for f in schema["fields"] if f["name"] not in skipped)


def _added_later_defaults(table: str, schema: dict[str, Any]) -> dict[str, Any]:
    defaults = {f["name"]: f["default"] for f in schema["fields"] if "default" in f}
    return {name: defaults[name] for name in ADDED_LATER.get(table, ())}


_OPS_SCHEMA_DOCS = {table: load_schema(AVRO_DIR, path) for table, path in OPS_SCHEMAS.items()}
#: Record fields per ops table, in column order (the ClickHouse migrations create them so).
OPS_FIELDS: dict[str, tuple[str, ...]] = {
    table: _ops_fields(table, doc) for table, doc in _OPS_SCHEMA_DOCS.items()
}
#: The schema defaults of the fields added later, per ops table.
OPTIONAL_FIELDS: dict[str, dict[str, Any]] = {
    table: defaults
    for table, doc in _OPS_SCHEMA_DOCS.items()
    if (defaults := _added_later_defaults(table, doc))
}

DEFAULT_ROUTES: dict[str, str] = {
    **{std_topic(entity): entity for entity in ENTITY_MODELS},
    topics.QUALITY: "ops_quality",
    topics.SOURCE_COUNTS: "ops_source_counts",
    topics.HEARTBEAT: "ops_heartbeat",
    topics.LANDED_COUNTS: "ops_landed_counts",
    **dict.fromkeys(topics.DEAD_LETTER_TOPICS, "ops_dead_letters"),
    topics.RECONCILIATION: "ops_reconciliation",
    topics.ANOMALY: "ops_anomaly",
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

    @cached_property
    def required(self) -> frozenset[str]:
        """The fields every record must have (all but those added later, with defaults)."""
        return frozenset(self.fields).difference(self.defaults)

    def check(self, value: Mapping[str, Any]) -> None:
        """KeyError naming the first required field ``value`` lacks, if any."""
        if not self.required <= value.keys():
            raise KeyError(next(n for n in self.fields if n in self.required and n not in value))

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
