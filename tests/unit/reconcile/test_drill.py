"""`reconcile diff`: raw versions minus landed (credits included) minus rejected."""

from __future__ import annotations

from streamhub.core.identity import record_id_of, version_id
from streamhub.reconcile.drill import RawChange, missing_changes, names_table, raw_change
from streamhub.reconcile.keys import TableKey
from streamhub.reconcile.repair import plan
from streamhub.standardize.pseudonym import Pseudonymizer
from streamhub.standardize.pseudonym_keys import IdentityTokens, PseudonymKey
from tests.unit.reconcile.helpers import INST, T0

TABLE = TableKey(INST, "hisdb", "public.patients")
IDENTITY = IdentityTokens(PseudonymKey("i1", b"identity-key-of-the-test-0123"))


def change(
    key: int, seq: int, *, op: str = "c", offset: int | None = None, connector: str = "h01-his"
) -> RawChange:
    key_json = f'{{"patient_id":{key}}}'
    return RawChange(
        connector,
        "his",
        TABLE,
        {"patient_id": key},
        op,
        T0 + seq,
        f"0/{seq}",
        seq,
        ("cdc.raw.his", 0, seq if offset is None else offset),
        record_id_of(IDENTITY, TABLE, key_json),
    )


def test_missing_is_raw_minus_landed_minus_rejected_once_per_version() -> None:
    raw = [change(1, 10), change(2, 11), change(2, 11, offset=99), change(3, 12), change(4, 13)]
    landed = {raw[0].version}
    rejected = {raw[3].version}
    missing = missing_changes(raw, landed | rejected)
    assert [(c.key, c.position_seq) for c in missing] == [
        ({"patient_id": 2}, 11),
        ({"patient_id": 4}, 13),
    ]


def test_dead_letters_without_a_version_are_matched_by_the_raw_message() -> None:
    raw = [change(1, 10), change(2, 11)]
    assert missing_changes(raw, set(), {("cdc.raw.his", 0, 11)}) == [raw[0]]


def test_a_repair_credit_accounts_for_the_versions_it_names() -> None:
    raw = [change(1, 10), change(1, 20, op="u"), change(2, 21)]
    credit = {raw[0].version, raw[1].version}
    assert missing_changes(raw, credit) == [raw[2]]


def test_versions_are_the_standardizers_and_the_landers() -> None:
    c = change(7, 42)
    standardizer = Pseudonymizer(b"person-key-of-the-test-0123", IDENTITY)
    rid = standardizer.identity.record_id(INST, "hisdb", "public.patients", '{"patient_id":7}')
    assert record_id_of(IDENTITY, TABLE, c.key_json) == rid
    assert c.version == version_id(rid, 42)


def test_a_raw_message_becomes_a_change_with_its_key_and_position() -> None:
    envelope = {
        "op": "u",
        "source": {
            "connector": "h01-his",
            "system": "his",
            "institution_id": INST,
            "database": "hisdb",
            "schema": "public",
            "table": "patients",
            "commit_ts_ms": T0 + 5,
            "position": "0/AB",
            "position_seq": 77,
        },
    }
    key = b'{"institution_id":"x","key":{"patient_id":7},"table":"hisdb.public.patients"}'
    c = raw_change(("cdc.raw.his", 1, 5), key, envelope, IDENTITY)
    assert c is not None and c.table == TABLE and c.key_json == '{"patient_id":7}'
    assert c.record_id == record_id_of(IDENTITY, TABLE, '{"patient_id":7}')
    assert c.record_id == change(7, 1).record_id
    assert raw_change(("cdc.raw.his", 1, 6), b"not json", envelope, IDENTITY) is None
    assert names_table(TABLE, "hisdb.public.patients") and names_table(TABLE, "public.patients")
    assert not names_table(TABLE, "patients")


def test_a_repair_re_reads_each_row_once_per_connector() -> None:
    raw = [change(1, 10), change(1, 11, op="u"), change(2, 12), change(3, 13, connector="b")]
    assert plan(raw) == {
        "h01-his": [{"patient_id": 1}, {"patient_id": 2}],
        "b": [{"patient_id": 3}],
    }
