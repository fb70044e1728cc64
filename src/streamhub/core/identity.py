"""Identities every stage computes the same way: a row's canonical key, its record id and the
version id of one change.

A std record's ``record_id`` is a keyed token of (institution, database, table, primary key)
minted by the standardizer's identity key; its version is that id plus ``position_seq``
(where in the source log the change sits). The standardizer, the lander and the reconciler
all call :func:`version_id` on the same two values, so a version landed twice, or rejected and
later landed after a DLQ replay, counts once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

# A row feeding several entities (a profile's ``also``): the first entity's record has the
# row's id, each further one the row's id and its entity, so every record is its own row in
# ClickHouse while all of them share the row's identity.
FURTHER_ENTITY_SEPARATOR = ":"
# json.dumps with these options builds an encoder per call; one made once writes the same text
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_key(key: Mapping[str, Any]) -> str:
    """A primary key as canonical JSON: sorted keys, compact separators, text kept as is.
    Record ids and the reconciler's drill-down both depend on this exact form."""
    return _CANONICAL.encode(key)


def canonical_key_bytes(key: Mapping[str, Any]) -> bytes:
    """:func:`canonical_key` as UTF-8, the form of a Kafka message key."""
    return canonical_key(key).encode()


def further_record_id(row_record_id: str, entity: str) -> str:
    """The record id of a further entity of a row (record ids are hex tokens: no ``:``)."""
    return f"{row_record_id}{FURTHER_ENTITY_SEPARATOR}{entity}"


def row_record_id(record_id: str) -> str:
    """The record id of the source row a record came from (itself for a row's first entity)."""
    return record_id.split(FURTHER_ENTITY_SEPARATOR, 1)[0]


def is_further(record_id: str) -> bool:
    return FURTHER_ENTITY_SEPARATOR in record_id


def version_id(record_id: str, position_seq: int) -> int:
    """A signed 64-bit id (fits Avro ``long``); collisions are negligible per window."""
    digest = hashlib.blake2b(f"{record_id}\x1f{position_seq}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def change_version(record_id: str, position_seq: int) -> int:
    """The version of the source change a record came from: one per change whichever entities
    it fed, so reconciliation counts changes (as ops.source_counts does), not records."""
    return version_id(row_record_id(record_id), position_seq)


class RecordIdMinter(Protocol):
    """What mints record ids: the standardizer's identity key (``IdentityTokens``)."""

    def record_id(self, institution_id: str, database: str, table: str, key_json: str) -> str: ...


class SourceTable(Protocol):
    """A source table as the stages name it (``reconcile.keys.TableKey`` is one)."""

    @property
    def institution_id(self) -> str: ...

    @property
    def database(self) -> str: ...

    @property
    def table(self) -> str: ...


def record_id_of(minter: RecordIdMinter, table: SourceTable, source_key: str) -> str:
    """The standardizer's ``record_id`` of a raw change, so that a raw version and its landed
    version compare equal. ``source_key`` is the capture key's ``key`` as :func:`canonical_key`."""
    return minter.record_id(table.institution_id, table.database, table.table, source_key)
