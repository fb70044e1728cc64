"""The compiled pseudonymizer (field plans resolved once per entity, HMAC keys prepared once)
protects exactly as before: the same tokens, person and staff keys (byte for byte: they are
stored downstream), the same protected values in the same order, the same refusals."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, date, datetime

import pytest

from streamhub.standardize.model import CLEAR_FIELDS, ENTITY_MODELS, TOKEN_FIELDS
from streamhub.standardize.pseudonym import Pseudonymizer
from streamhub.standardize.pseudonym_keys import (
    IdentityTokens,
    KeyRing,
    PreparedMac,
    PseudonymKey,
)

from .mapped_corpus import mapped_records
from .pseudonym_oracle import OraclePseudonymizer
from .test_checks import SETTLEMENT, clean

PERSON = {"k1": b"person-key-one-0123456789", "k2": b"person-key-two-0123456789abcdef"}
IDENTITY = b"identity-key-0123456789abcdef"
INSTITUTION = "12350200MB0123456X"


def _pseudonymizer() -> Pseudonymizer:
    ring = KeyRing([PseudonymKey(key_id, secret) for key_id, secret in PERSON.items()])
    return Pseudonymizer(ring, IdentityTokens(PseudonymKey("i-test", IDENTITY)))


ORACLE = OraclePseudonymizer(PERSON, IDENTITY)


# --- known values: what records landed before carry -------------------------------------------


def test_tokens_and_keys_equal_their_known_values() -> None:
    """Computed with the code at f3933e1 from these test keys; a change here re-keys every
    stored record."""
    p = _pseudonymizer()
    tokens = p.identity
    assert tokens.token("patient", INSTITUTION, "P1") == "5bf1551a5ad295420ae4e6f61e0939d7"
    assert tokens.token("visit_no", INSTITUTION, "门诊0001") == "32632e043de26f1e8dd796ab312b70fe"
    key = '{"id":1}'
    assert tokens.record_id(INSTITUTION, "his", "public.patients", key) == (
        "e9eb040cd7eb5bea586c35ce37cc6761"
    )
    assert tokens.source_key(INSTITUTION, "his", "public.patients", key) == (
        "ecc1d310d74b1336811afc22b8438951"
    )
    assert p.person_key("01", "11010519491231002x") == (
        "a27bbb62054965c0be6ff21f87e66a4ae526ccbb6b4dc42f5d706d4996a775d6"
    )
    assert p.person_key("01", "11010519491231002X", key_id="k1") == (
        "068aa743cd18c54dd527319a18f0602fba5a1d22450891986cfbf206ce719316"
    )
    assert p.staff_key(INSTITUTION, "王伟") == (
        "41fb3b61ad38300370743c81dee14e3fd0ca2747b685445ca34ac27a69aa3f1a"
    )
    long_key = Pseudonymizer(KeyRing([PseudonymKey("k9", b"L" * 100)]), tokens)
    assert long_key.person_key("01", "11010519491231002X") == (
        "91de874bdd0923451b34779c30ba4aa020914caae5ac8888d03b7932522b09cf"
    )
    # a lone key derives its identity key as before
    lone = Pseudonymizer(b"legacy-key-0123456789ab")
    assert lone.token("patient", "A", "P1") == "b72762ce61b8a4aac81e48370d91fb22"


def test_protected_records_equal_their_known_values() -> None:
    p = _pseudonymizer()
    patient = {
        "patient_id": " P1 ",
        "name": "张三",
        "id_type": "01",
        "id_number": "11010519491231002X",
        "sex_code": "2",
        "birth_date": date(1949, 12, 31),
        "phone": "13800000000",
        "address": "x",
        "region_code": "350203",
        "region_name": "厦门市思明区",
    }
    out = p.protect(
        "patient", patient, datetime(2026, 3, 2, 1, tzinfo=UTC), institution_id=INSTITUTION
    )
    assert list(out.items()) == [
        ("patient_id", "5bf1551a5ad295420ae4e6f61e0939d7"),
        ("id_type", "01"),
        ("sex_code", "2"),
        ("region_code", "350200"),
        ("region_name", "厦门市"),
        ("pseudonym_key_id", "k2"),
        ("person_key", "a27bbb62054965c0be6ff21f87e66a4ae526ccbb6b4dc42f5d706d4996a775d6"),
        ("age_band", "70-79"),
    ]
    encounter = {"encounter_id": "E1", "patient_id": "P1", "visit_no": "", "doctor": "王伟"}
    out = p.protect("encounter", encounter, None, institution_id=INSTITUTION)
    assert list(out.items()) == [
        ("encounter_id", "10abe7bb5af276eefd1be0e1d7236912"),
        ("patient_id", "5bf1551a5ad295420ae4e6f61e0939d7"),
        ("visit_no", None),
        ("pseudonym_key_id", "k2"),
        ("doctor_key", "41fb3b61ad38300370743c81dee14e3fd0ca2747b685445ca34ac27a69aa3f1a"),
    ]
    report = {"report_id": "R1", "patient_id": "P1", "encounter_id": None, "verifier": "李四"}
    out = p.protect("lab_report", report, None, institution_id=INSTITUTION)
    assert out["report_id"] == "a4b5cafb8147397cb024ac39686f18bc"
    assert out["verifier_key"] == (
        "53fd3179779e6ca522b841794b67592525a1d1cd7230732eb8e7bf361b1cc921"
    )


# --- the prepared HMAC is HMAC --------------------------------------------------------------


@pytest.mark.parametrize("key_bytes", [16, 32, 63, 64, 65, 100, 300])
def test_a_prepared_mac_is_hmac_sha256(key_bytes: int) -> None:
    rng = random.Random(key_bytes)
    secret = rng.randbytes(key_bytes)
    prepared = PreparedMac(secret)
    key = PseudonymKey("k1", secret)
    for size in (0, 1, 31, 55, 56, 63, 64, 65, 119, 1000):
        message = rng.randbytes(size)
        expected = hmac.new(secret, message, hashlib.sha256).hexdigest()
        assert prepared.hexdigest(message) == expected
        assert key.hexdigest(message) == expected
    # a state is copied, never consumed: the same message again gives the same digest
    assert prepared.hexdigest(b"again") == prepared.hexdigest(b"again")


def test_identity_tokens_are_truncated_hmac_of_kind_institution_value() -> None:
    tokens = IdentityTokens(PseudonymKey("i-test", IDENTITY))
    for kind, institution, value in [("patient", "A", "P1"), ("record", "机构", "db\x1ft\x1f{}")]:
        message = "\x1f".join((kind, institution, value)).encode("utf-8")
        expected = hmac.new(IDENTITY, message, hashlib.sha256).hexdigest()[:32]
        assert tokens.token(kind, institution, value) == expected


def test_the_prepared_states_are_not_shown() -> None:
    key = PseudonymKey("k1", PERSON["k1"])
    assert "person-key" not in repr(key) and "person-key" not in repr(key._prepared)


# --- protect() against the code before it ---------------------------------------------------


Outcome = list[tuple[str, object]] | str


def _outcome(p: Pseudonymizer | OraclePseudonymizer, entity: str, values: dict[str, object],
             at: datetime | None, institution: str | None) -> Outcome:  # fmt: skip
    try:
        return list(p.protect(entity, values, at, institution_id=institution).items())
    except Exception as exc:  # both must refuse alike
        return f"{type(exc).__name__}: {exc}"


def _assert_same(entity: str, values: dict[str, object], at: datetime | None,
                 institution: str | None = INSTITUTION) -> None:  # fmt: skip
    got = _outcome(_pseudonymizer(), entity, values, at, institution)
    assert got == _outcome(ORACLE, entity, values, at, institution), (entity, values)


def test_the_simulated_mix_is_protected_the_same() -> None:
    p = _pseudonymizer()
    for r in mapped_records():
        new = p.protect(r.entity, r.values, r.business_time, institution_id=r.institution_id)
        old = ORACLE.protect(r.entity, r.values, r.business_time, institution_id=r.institution_id)
        assert list(new.items()) == list(old.items()), r


ODD = [None, "", "  ", " P7 ", "门诊0001", 0, 42, 4.5, True, date(1990, 1, 1), b"\xff"]


@pytest.mark.parametrize("entity", sorted(ENTITY_MODELS))
def test_every_identifier_field_mutated_is_protected_the_same(entity: str) -> None:
    base = clean(entity) if entity != "charge" else {**clean("charge"), **SETTLEMENT}
    at = datetime(2026, 3, 2, 1, tzinfo=UTC)
    fields = {*TOKEN_FIELDS.get(entity, {}), *CLEAR_FIELDS.get(entity, ()), "id_type"}
    fields |= {"region_code", "doctor", "verifier"}
    for name in sorted(fields):
        for value in ODD:
            _assert_same(entity, {**base, name: value}, at)
        _assert_same(entity, {k: v for k, v in base.items() if k != name}, at)
    for at_value in (None, at.replace(tzinfo=None), datetime(1960, 1, 1, tzinfo=UTC)):
        _assert_same(entity, base, at_value)


@pytest.mark.parametrize("institution", [None, ""])
@pytest.mark.parametrize("entity", sorted(ENTITY_MODELS))
def test_a_missing_institution_is_refused_the_same(entity: str, institution: str | None) -> None:
    base = clean(entity)
    _assert_same(entity, base, None, institution)
    for name in TOKEN_FIELDS.get(entity, {}):  # tokens blank: the staff name still needs it
        base = {**base, name: None}
    _assert_same(entity, base, None, institution)


def test_an_unknown_entity_passes_through_the_same() -> None:
    _assert_same("visit", {"visit_id": "V1", "name": "张三"}, None)
    assert _pseudonymizer().protect("visit", {"name": "张三"}, None) == {"name": "张三"}
