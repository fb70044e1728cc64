"""Version ids: what makes a replayed landing distinguishable from an extra row.

``ops.landed_counts`` sums per flush, so a batch landed twice (a crash between
insert and offset commit) is counted twice while ClickHouse keeps one version.
The cure is to count *distinct record versions*: a std record's version is its
``record_id`` (institution, database, table, primary key) plus its
``source_position_seq`` (where in the source log the change sits). The lander,
the standardizer's dead letters and any std.* counter call :func:`version_id` on
the same two values, so the reconciler can union the ids per window and a version
landed twice, or rejected and later landed after a DLQ replay, counts once.
"""

from __future__ import annotations

import hashlib

from streamhub.reconcile.keys import TableKey
from streamhub.standardize.pseudonym_keys import IdentityTokens

# A row feeding several entities (a profile's ``also``): the first entity's record has the
# row's id, each further one the row's id and its entity, so every record is its own row in
# ClickHouse while all of them share the row's identity.
FURTHER_ENTITY_SEPARATOR = ":"


def further_record_id(row_record_id: str, entity: str) -> str:
    """The record id of a further entity of a row (record ids are hex tokens: no ``:``)."""
    return f"{row_record_id}{FURTHER_ENTITY_SEPARATOR}{entity}"


def row_record_id(record_id: str) -> str:
    """The record id of the source row a record came from (itself for a row's first entity)."""
    return record_id.split(FURTHER_ENTITY_SEPARATOR, 1)[0]


def is_further(record_id: str) -> bool:
    return FURTHER_ENTITY_SEPARATOR in record_id


def change_version(record_id: str, position_seq: int) -> int:
    """The version of the source change a record came from: one per change whichever entities
    it fed, so reconciliation counts changes (as ops.source_counts does), not records."""
    return version_id(row_record_id(record_id), position_seq)


def version_id(record_id: str, position_seq: int) -> int:
    """A signed 64-bit id (fits Avro ``long``); collisions are negligible per window."""
    digest = hashlib.blake2b(f"{record_id}\x1f{position_seq}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def record_id_of(identity: IdentityTokens, table: TableKey, source_key: str) -> str:
    """The standardizer's ``record_id`` of a raw change: the same keyed token (identity key,
    ``IdentityTokens.from_settings``), so a raw version and its landed version compare equal.

    ``source_key`` is the capture key's ``key`` object as canonical JSON (sorted keys,
    compact separators, ensure_ascii off), exactly as the standardizer computes it.
    """
    return identity.record_id(table.institution_id, table.database, table.table, source_key)
