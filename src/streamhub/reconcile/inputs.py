"""The reconciler's inputs, decoupled from Kafka: one dataclass per kind of fact.

Each has a ``from_avro`` for the decoded record of its topic as it exists today,
and plain ``to_dict``/``from_dict`` so parked inputs survive a snapshot.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from streamhub.core.identity import canonical_key, record_id_of, version_id
from streamhub.reconcile.keys import TableKey
from streamhub.standardize.pseudonym_keys import IdentityTokens

#: the error type of a capture dead letter standing for a change too large for Kafka: the
#: change is counted at the source and never reaches cdc.raw.*, so it is a rejection
OVERSIZED_CHANGE = "MessageTooLarge"


@dataclass(frozen=True, slots=True)
class SourceWindow:
    """One ``ops.source_counts`` window: cumulative totals of the source log (latest wins)."""

    table: TableKey
    system: str
    window_start_ms: int
    window_ms: int
    inserts: int
    updates: int
    deletes: int
    snapshot_reads: int
    emitted_ts_ms: int

    @property
    def changes(self) -> int:
        return self.inserts + self.updates + self.deletes + self.snapshot_reads


@dataclass(frozen=True, slots=True)
class RowCount:
    """An ``ops.source_counts`` row-count record: the table's rows at a known log position."""

    table: TableKey
    system: str
    rows: int
    position: str
    measured_minute_ms: int
    emitted_ts_ms: int


def source_from_avro(value: dict[str, Any]) -> SourceWindow | RowCount:
    """A decoded ``ops.source_counts`` value: a window, or a row count when ``row_count`` is set."""
    table = TableKey(value["institution_id"], value["database"], value["table"])
    if value.get("row_count") is not None:
        return RowCount(
            table,
            value["system"],
            int(value["row_count"]),
            str(value["row_count_position"]),
            int(value["window_start_ms"]),
            int(value["emitted_ts_ms"]),
        )
    return SourceWindow(
        table,
        value["system"],
        int(value["window_start_ms"]),
        int(value.get("window_ms", 60_000)),
        int(value["inserts"]),
        int(value["updates"]),
        int(value["deletes"]),
        int(value.get("snapshot_reads", 0)),
        int(value["emitted_ts_ms"]),
    )


@dataclass(frozen=True, slots=True)
class StageCounts:
    """Records a stage produced for one table and commit minute: an increment, never a total.

    ``database`` is None in today's ``ops.landed_counts`` (resolved from what the
    source counts taught). ``versions``, when given, are the :func:`version_id` of
    every record counted; a window whose increments all carry them is counted exactly.
    ``repair_id`` marks a repair credit: ``versions`` are changes of this (older) window
    that a targeted re-snapshot restored (``streamhub reconcile diff --repair``).
    """

    institution_id: str
    system: str
    table: str  # qualified, as in std records' source_table
    window_start_ms: int
    upserts: int
    deletes: int
    database: str | None = None
    versions: frozenset[int] | None = None
    window_ms: int = 60_000
    repair_id: str | None = None

    @property
    def records(self) -> int:
        return self.upserts + self.deletes

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["versions"] = None if self.versions is None else sorted(self.versions)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageCounts:
        versions = data.get("versions")
        return cls(**{**data, "versions": None if versions is None else frozenset(versions)})


def landed_from_avro(value: dict[str, Any]) -> StageCounts:
    """A decoded ``ops.landed_counts`` value (database and versions: proposed fields)."""
    versions = value.get("versions")
    return StageCounts(
        value["institution_id"],
        value["system"],
        value["table"],
        int(value["window_start_ms"]),
        int(value["upserts"]),
        int(value["deletes"]),
        value.get("database"),
        None if versions is None else frozenset(int(v) for v in versions),
        int(value.get("window_ms", 60_000)),
        value.get("repair_id"),
    )


@dataclass(frozen=True, slots=True)
class Rejection:
    """One dead letter of a record that will not land (stage standardize or land).

    ``commit_ts_ms`` places it in its window; today's dead letters do not carry it
    (the wiring can read it from the envelope in ``original_value`` when that
    decodes). Without it the rejection is counted per table only ("unplaced").
    Duplicates are recognized by ``version`` when given, else by ``origin``.
    """

    institution_id: str
    table: str  # qualified, as in std records' source_table
    database: str | None
    stage: str
    failed_ts_ms: int
    commit_ts_ms: int | None = None
    system: str | None = None
    version: int | None = None
    origin: tuple[str, int, int] | None = None  # (topic, partition, offset) of the rejected input

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["origin"] = None if self.origin is None else list(self.origin)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rejection:
        origin = data.get("origin")
        return cls(**{**data, "origin": None if origin is None else tuple(origin)})


def rejection_from_avro(
    value: dict[str, Any],
    *,
    commit_ts_ms: int | None = None,
    system: str | None = None,
    version: int | None = None,
) -> Rejection | None:
    """A decoded dead letter; None when it does not withhold a record from ClickHouse.

    ``dlq.capture`` letters are not rejections (the row still flows with the
    undecodable value null), except a change too large for Kafka (``MessageTooLarge``):
    that change never reaches cdc.raw.*, so it is rejected in its own commit window;
    :func:`oversized_change_version` gives its version. The capture and standardize
    stages name ``database.[schema.]table`` (the capture key's form); the land stage
    names the std record's qualified table.
    Keyword values come from the envelope or std record in ``original_value`` when
    the wiring could decode it (or from the proposed dead-letter fields).
    """
    stage = value["stage"]
    institution, table = value.get("institution_id"), value.get("table")
    oversized = stage == "capture" and value.get("error_type") == OVERSIZED_CHANGE
    if institution is None or table is None:
        return None
    if stage not in ("standardize", "land") and not oversized:
        return None
    database: str | None = None
    if stage != "land":
        key = TableKey.from_full(institution, table)
        database, table = key.database, key.table
    topic, partition, offset = (
        value.get("original_topic"),
        value.get("original_partition"),
        value.get("original_offset"),
    )
    origin = (
        None
        if topic is None or partition is None or offset is None
        else (str(topic), int(partition), int(offset))
    )
    return Rejection(
        institution,
        table,
        database,
        stage,
        int(value["failed_ts_ms"]),
        commit_ts_ms if commit_ts_ms is not None else value.get("commit_ts_ms"),
        system if system is not None else value.get("system"),
        version if version is not None else value.get("version"),
        origin,
    )


def oversized_change_version(value: dict[str, Any], identity: IdentityTokens) -> int | None:
    """The version of the change a capture ``MessageTooLarge`` letter stands for, as the
    lander would have counted it: ``version_id(record_id, position_seq)`` with the
    standardizer's keyed record id of the row. The capture agent holds no identity key,
    so the letter carries the row key (``original_key``, the raw message key) and
    ``position_seq``, and the id is computed here. None when the letter lacks either
    (written before ``position_seq`` existed): the rejection is then counted as it comes.
    """
    seq, raw_key = value.get("position_seq"), value.get("original_key")
    institution, table = value.get("institution_id"), value.get("table")
    if seq is None or not isinstance(raw_key, bytes) or institution is None or table is None:
        return None
    try:
        document = json.loads(raw_key)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("key"), dict):
        return None
    key_json = canonical_key(document["key"])
    record_id = record_id_of(identity, TableKey.from_full(institution, table), key_json)
    return version_id(record_id, int(seq))
