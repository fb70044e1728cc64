"""One window key for the stages' different table names."""

from __future__ import annotations

import pytest

from streamhub.core.identity import record_id_of, version_id
from streamhub.reconcile.errors import AmbiguousTableError, WindowShapeError
from streamhub.reconcile.inputs import rejection_from_avro, source_from_avro
from streamhub.reconcile.keys import TableKey
from streamhub.reconcile.reconciler import Outcome
from streamhub.reconcile.result import Status
from streamhub.standardize.pseudonym import Pseudonymizer
from streamhub.standardize.pseudonym_keys import IdentityTokens, PseudonymKey
from tests.unit.reconcile.helpers import (
    GRACE,
    INST,
    MINUTE,
    T0,
    clock_at,
    dead_letter,
    landed,
    reconciler,
    source,
)

PAST_GRACE = T0 + MINUTE + GRACE


@pytest.mark.parametrize(
    ("full", "database", "table"),
    [("hisdb.public.patient", "hisdb", "public.patient"), ("lis.lab_result", "lis", "lab_result")],
)
def test_capture_names_split_at_the_database(full: str, database: str, table: str) -> None:
    assert TableKey.from_full(INST, full) == TableKey(INST, database, table)
    assert TableKey(INST, database, table).full_name == full


def test_a_name_without_database_is_refused() -> None:
    with pytest.raises(WindowShapeError, match="database"):
        TableKey.from_full(INST, "patient")


def test_source_counts_and_dead_letters_meet_on_one_key() -> None:
    item = source_from_avro(
        {
            "connector": "c",
            "institution_id": INST,
            "system": "lis",
            "database": "lis",
            "table": "lab_result",
            "window_start_ms": T0,
            "inserts": 1,
            "updates": 0,
            "deletes": 0,
            "emitted_ts_ms": T0,
        }
    )
    letter = dead_letter(table="lis.lab_result")
    assert letter.database is not None
    assert item.table == TableKey(INST, letter.database, letter.table)


def test_landed_counts_find_their_database_through_the_source_counts() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=1))
    assert rec.apply_landed(landed(upserts=1)) is Outcome.APPLIED
    [result] = rec.due(PAST_GRACE)
    assert result.status is Status.MATCH and result.database == "hisdb"


def test_input_before_the_table_is_known_waits_for_it() -> None:
    rec = reconciler(clock_at(T0))
    assert rec.apply_landed(landed(upserts=1)) is Outcome.PARKED
    land_letter = dead_letter(stage="land", table="public.patient", offset=3)
    assert rec.apply_rejection(land_letter) is Outcome.PARKED
    assert rec.due(PAST_GRACE) == []
    rec.apply_source(source(inserts=2))
    [result] = rec.due(PAST_GRACE)
    assert (result.landed, result.dead_lettered, result.status) == (1, 1, Status.MATCH)


def test_landed_counts_of_a_table_in_two_databases_need_the_database() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=1, database="his_a"))
    rec.apply_source(source(inserts=1, database="his_b"))
    with pytest.raises(AmbiguousTableError, match="his_a, his_b"):
        rec.apply_landed(landed(upserts=1))
    assert rec.apply_landed(landed(upserts=1, database="his_b")) is Outcome.APPLIED


def test_the_same_table_name_in_another_system_is_not_ambiguous() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source(inserts=1, database="his", system="his"))
    rec.apply_source(source(inserts=1, database="emr", system="emr"))
    assert rec.apply_landed(landed(upserts=1, system="emr")) is Outcome.APPLIED
    statuses = {r.database: r.status for r in rec.due(PAST_GRACE)}
    assert statuses == {"his": Status.MISSING, "emr": Status.MATCH}


def test_misaligned_windows_are_refused() -> None:
    rec = reconciler(clock_at(T0))
    with pytest.raises(WindowShapeError, match="window_ms"):
        rec.apply_source(source(T0 + 1))


def test_land_stage_dead_letter_names_the_qualified_table() -> None:
    value = {
        "stage": "land",
        "reason": "r",
        "error_type": "E",
        "institution_id": INST,
        "table": "public.patient",
        "failed_ts_ms": T0,
    }
    rejection = rejection_from_avro(value, commit_ts_ms=T0)
    assert rejection is not None
    assert (rejection.database, rejection.table) == (None, "public.patient")


def test_version_ids_match_the_standardizers_record_ids() -> None:
    key = TableKey(INST, "hisdb", "public.patient")
    source_key = '{"id":1}'
    identity = IdentityTokens(PseudonymKey("i1", b"identity-key-of-the-test-0123"))
    standardizer = Pseudonymizer(b"person-key-of-the-test-0123", identity)
    assert record_id_of(identity, key, source_key) == standardizer.identity.record_id(
        INST, "hisdb", "public.patient", source_key
    )
    vid = version_id(record_id_of(identity, key, source_key), 7)
    assert vid == version_id(record_id_of(identity, key, source_key), 7)
    assert vid != version_id(record_id_of(identity, key, source_key), 8)
    assert -(2**63) <= vid < 2**63
