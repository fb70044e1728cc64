"""`reconcile diff`: which source changes of one window neither landed nor were rejected.

The raw CDC topic holds every change the capture agent read; each has a version id
(``version_id(record_id, position_seq)``, the same the lander lists in
``ops.landed_counts`` and the dead letters carry). Missing = the window's raw versions
minus the versions landed (repair credits included) minus the versions rejected.
Dead letters without a version are matched by the raw message they rejected.
The set arithmetic is :func:`missing_changes`; :func:`drill` reads the topics.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from streamhub.config import Settings
from streamhub.core.identity import canonical_key, record_id_of, version_id
from streamhub.core.topic_names import (
    DEAD_LETTER_TOPICS,
    LANDED_COUNTS,
    RAW_TOPICS,
    RECONCILIATION,
    raw_topic,
)
from streamhub.kafka.reading import read_since
from streamhub.reconcile.errors import TableNotFoundError
from streamhub.reconcile.inputs import StageCounts, landed_from_avro, rejection_from_avro
from streamhub.reconcile.keys import TableKey, window_start
from streamhub.reconcile.result import Result
from streamhub.serde.avro_serde import AvroSerde
from streamhub.serde.errors import RegistryUnavailableError, SerdeError
from streamhub.serde.wire import MessageRef
from streamhub.standardize.pseudonym_keys import IdentityTokens

WINDOW_MS = 60_000


@dataclass(frozen=True, slots=True)
class RawChange:
    connector: str
    system: str
    table: TableKey
    key: dict[str, Any]
    op: str
    commit_ts_ms: int
    position: str
    position_seq: int
    origin: tuple[str, int, int]  # raw topic, partition, offset
    record_id: str  # the standardizer's keyed record id of the row

    @property
    def key_json(self) -> str:
        return canonical_key(self.key)

    @property
    def version(self) -> int:
        return version_id(self.record_id, self.position_seq)


def raw_change(
    origin: tuple[str, int, int],
    key: bytes | None,
    envelope: dict[str, Any],
    identity: IdentityTokens,
) -> RawChange | None:
    """A raw message as a change, or None when its key is not the capture agent's."""
    try:
        document = json.loads(key or b"")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("key"), dict):
        return None
    source = envelope["source"]
    qualified = f"{source['schema']}.{source['table']}" if source["schema"] else source["table"]
    table = TableKey(source["institution_id"], source["database"], qualified)
    return RawChange(
        connector=source["connector"],
        system=source["system"],
        table=table,
        key=document["key"],
        op=envelope["op"],
        commit_ts_ms=int(source["commit_ts_ms"]),
        position=str(source["position"]),
        position_seq=int(source["position_seq"]),
        origin=origin,
        record_id=record_id_of(identity, table, canonical_key(document["key"])),
    )


def names_table(table: TableKey, name: str) -> bool:
    """``name`` as an operator types it: database.[schema.]table, or the qualified name."""
    return name in (table.full_name, table.table)


def missing_changes(
    raw: Iterable[RawChange],
    accounted_versions: AbstractSet[int],
    rejected_origins: AbstractSet[tuple[str, int, int]] = frozenset(),
) -> list[RawChange]:
    """Raw changes neither landed nor rejected, one per version (a change the capture
    agent sent twice is one change), in source-log order."""
    seen: dict[int, RawChange] = {}
    for change in raw:
        if change.origin in rejected_origins:
            # rejected by the raw message: its version (and any re-send of it) is accounted
            accounted_versions = accounted_versions | {change.version}
        seen.setdefault(change.version, change)
    missing = [c for v, c in seen.items() if v not in accounted_versions]
    return sorted(missing, key=lambda c: (c.position_seq, c.key_json))


@dataclass
class Drill:
    """What `reconcile diff` found for one window."""

    institution_id: str
    table: TableKey
    window_start_ms: int
    raw: list[RawChange] = field(default_factory=list)
    landed: set[int] = field(default_factory=set)  # versions, repair credits included
    credited: set[int] = field(default_factory=set)  # of which repair credits
    rejected_versions: set[int] = field(default_factory=set)
    rejected_origins: set[tuple[str, int, int]] = field(default_factory=set)
    entity: str | None = None  # from the window's landed counts: names a repair credit's entity
    result: Result | None = None  # the latest published judgement of the window

    @property
    def missing(self) -> list[RawChange]:
        return missing_changes(
            self.raw, self.landed | self.rejected_versions, self.rejected_origins
        )

    @property
    def source_changes(self) -> int:
        return len({c.version for c in self.raw})


def drill(
    settings: Settings,
    serde: AvroSerde,
    institution_id: str,
    table_name: str,
    window_start_ms: int,
    *,
    slack_ms: int = 10 * 60_000,
    timeout_s: float = 120.0,
) -> Drill:
    """Read the window's raw changes, landed versions and dead letters from Kafka.

    Needs the identity key (landed versions are of keyed record ids): a ConfigError says
    how to provide it."""
    identity = IdentityTokens.from_settings(settings)
    start = window_start(window_start_ms, WINDOW_MS)
    result = _latest_result(settings, serde, institution_id, table_name, start, timeout_s)
    topics = [raw_topic(result.system)] if result is not None else list(RAW_TOPICS)
    raw: list[RawChange] = []
    for message in read_since(
        settings,
        topics,
        start - slack_ms,
        until_ts_ms=start + WINDOW_MS + slack_ms,
        timeout_s=timeout_s,
    ):
        change = _decode_raw(
            serde,
            message.topic,
            message.partition,
            message.offset,
            message.key,
            message.value,
            identity,
        )
        if (
            change is not None
            and change.table.institution_id == institution_id
            and names_table(change.table, table_name)
            and window_start(change.commit_ts_ms, WINDOW_MS) == start
        ):
            raw.append(change)
    tables = {c.table for c in raw}
    if result is not None:
        tables = {t for t in tables if t.database == result.database} or tables
    if len(tables) > 1:
        raise TableNotFoundError(
            f"institution {institution_id}: {table_name} names "
            f"{', '.join(sorted(t.full_name for t in tables))}; give database.table",
            institution=institution_id,
            table=table_name,
            window_start_ms=start,
        )
    if not tables:
        raise TableNotFoundError(
            f"institution {institution_id}: no change of {table_name} committed in the window "
            f"starting {start} in {', '.join(topics)} (read with a slack of "
            f"{slack_ms // 1000} s); check the institution id, the table name as "
            "`reconcile show` prints it, and the window",
            institution=institution_id,
            table=table_name,
            window_start_ms=start,
        )
    table = tables.pop()
    found = Drill(institution_id, table, start, [c for c in raw if c.table == table], result=result)
    _read_accounted(settings, serde, found, timeout_s)
    return found


def _latest_result(
    settings: Settings,
    serde: AvroSerde,
    institution_id: str,
    table_name: str,
    start: int,
    timeout_s: float,
) -> Result | None:
    latest: Result | None = None
    for message in read_since(settings, [RECONCILIATION], start, timeout_s=timeout_s):
        value = _decode(serde, message.topic, message.partition, message.offset, message.value)
        if value is None or value.get("institution_id") != institution_id:
            continue
        result = Result.from_avro(value)
        if result.window_start_ms != start or not names_table(
            TableKey(institution_id, result.database, result.table), table_name
        ):
            continue
        if latest is None or result.revision >= latest.revision:
            latest = result
    return latest


def _read_accounted(settings: Settings, serde: AvroSerde, found: Drill, timeout_s: float) -> None:
    """Landed versions, repair credits and dead letters of the window, from its start on."""
    table = found.table
    topics = [LANDED_COUNTS, *DEAD_LETTER_TOPICS]
    for message in read_since(
        settings, topics, found.window_start_ms - 60_000, timeout_s=timeout_s
    ):
        value = _decode(serde, message.topic, message.partition, message.offset, message.value)
        if value is None or value.get("institution_id") != table.institution_id:
            continue
        if message.topic == LANDED_COUNTS:
            counts = landed_from_avro(value)
            if _same_window(counts, table, found.window_start_ms):
                versions = set(counts.versions or ())
                found.landed |= versions
                if counts.repair_id is not None:
                    found.credited |= versions
                found.entity = found.entity or value.get("entity")
            continue
        rejection = rejection_from_avro(value)
        if (
            rejection is None
            or rejection.table != table.table
            or rejection.database not in (None, table.database)
        ):
            continue
        if rejection.version is not None:
            found.rejected_versions.add(rejection.version)
        elif rejection.origin is not None:
            found.rejected_origins.add(rejection.origin)


def _same_window(counts: StageCounts, table: TableKey, start: int) -> bool:
    return (
        counts.table == table.table
        and counts.database in (None, table.database)
        and counts.window_start_ms == start
    )


def _decode(
    serde: AvroSerde, topic: str, partition: int, offset: int, value: bytes | None
) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        decoded = serde.decode(value, MessageRef(topic, partition, offset)).value
    except RegistryUnavailableError:
        raise
    except SerdeError:
        return None  # not a record of this topic's kind: nothing to count
    return decoded if isinstance(decoded, dict) else None


def _decode_raw(
    serde: AvroSerde,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    identity: IdentityTokens,
) -> RawChange | None:
    envelope = _decode(serde, topic, partition, offset, value)
    if envelope is None or "source" not in envelope:
        return None
    return raw_change((topic, partition, offset), key, envelope, identity)
