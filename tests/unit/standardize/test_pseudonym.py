"""Pseudonyms link a person across institutions only with the key; protect() leaves nothing
in clear."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from streamhub.codes import citizen_id
from streamhub.config import load_settings
from streamhub.errors import ConfigError
from streamhub.standardize.model import CLEAR_FIELDS, ENTITY_MODELS
from streamhub.standardize.pseudonym import (
    Pseudonymizer,
    age_band,
    mask_observed,
)

KEY = b"k" * 32
ID = "11010519491231002X"
AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def patient(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "patient_id": "P1",
        "id_type": "01",
        "id_number": ID,
        "name": "欧阳娜娜",
        "sex_code": "2",
        "birth_date": date(1949, 12, 31),
        "phone": "13512340001",
        "address": "思明区嘉禾路12号",
        "region_code": "350203",
    }
    return {**values, **changes}


def test_person_key_is_stable_across_institutions_and_normalizes_the_number() -> None:
    p = Pseudonymizer(KEY)
    key = p.person_key("01", ID)
    assert key == p.person_key("01", " 11010519491231002x ")
    assert key == hmac.new(KEY, b"01:" + ID.encode(), hashlib.sha256).hexdigest()
    assert (
        key
        == Pseudonymizer(KEY).protect("patient", patient(), AT, institution_id="A")["person_key"]
    )
    assert key != p.person_key("03", ID)  # another document type is another identity


def test_person_key_depends_on_the_key() -> None:
    assert Pseudonymizer(KEY).person_key("01", ID) != Pseudonymizer(b"j" * 32).person_key("01", ID)
    assert ID not in Pseudonymizer(KEY).person_key("01", ID)
    assert hashlib.sha256(f"01:{ID}".encode()).hexdigest() != Pseudonymizer(KEY).person_key(
        "01", ID
    )


def test_staff_keys_are_scoped_to_their_institution() -> None:
    p = Pseudonymizer(KEY)
    assert p.staff_key("A", "王伟") == p.staff_key("A", " 王伟 ")
    assert p.staff_key("A", "王伟") != p.staff_key("B", "王伟")
    assert p.staff_key("A", "王伟") != p.staff_key("A", "王芳")


@pytest.mark.parametrize(
    ("birth", "band"),
    [
        (date(2026, 3, 2), "0-9"),
        (date(2016, 3, 3), "0-9"),  # turns 10 tomorrow
        (date(2016, 3, 2), "10-19"),
        (date(1977, 1, 1), "40-49"),
        (date(1946, 3, 2), "80+"),
        (date(1920, 1, 1), "80+"),
        (date(2026, 3, 3), None),
    ],
)
def test_age_band(birth: date, band: str | None) -> None:
    assert age_band(birth, date(2026, 3, 2)) == band


def test_protect_patient_leaves_no_clear_identifier() -> None:
    values = patient()
    out = Pseudonymizer(KEY).protect("patient", values, AT, institution_id="A")
    assert not set(CLEAR_FIELDS["patient"]) & set(out)
    text = repr(out)
    for clear in ("欧阳娜娜", "娜娜", ID, ID[6:14], "13512340001", "12340001", "嘉禾路"):
        assert clear not in text
    # no remnant of the name, ID number, phone or birth year (the holes of issue 14)
    for partial in ("欧", "110105", "002X", "135", "0001", "1949"):
        assert partial not in text
    assert out["age_band"] == "70-79"
    assert out["region_code"] == "350200" and out["region_name"] == "厦门市"  # prefecture
    assert out["sex_code"] == "2"
    assert out.keys() <= ENTITY_MODELS["patient"].model_fields.keys()


def test_protect_patient_with_missing_values() -> None:
    out = Pseudonymizer(KEY).protect(
        "patient",
        patient(name=None, id_type=None, phone="", birth_date=None),
        None,
        institution_id="A",
    )
    assert out["person_key"] is None  # a number without its type links nothing
    assert out["age_band"] is None
    out = Pseudonymizer(KEY).protect("patient", patient(), None, institution_id="A")
    assert out["age_band"] is None
    out = Pseudonymizer(KEY).protect("patient", patient(region_code="3502"), AT, institution_id="A")
    assert (out["region_code"], out["region_name"]) == (None, None)  # not generalizable


@pytest.mark.parametrize(
    ("entity", "field", "key"),
    [("encounter", "doctor", "doctor_key"), ("lab_report", "verifier", "verifier_key")],
)
def test_protect_staff(entity: str, field: str, key: str) -> None:
    p = Pseudonymizer(KEY)
    out = p.protect(entity, {"patient_id": "P1", field: "王伟"}, AT, institution_id="A")
    assert out == {
        "patient_id": p.token("patient", "A", "P1"),
        key: p.staff_key("A", "王伟"),
        "pseudonym_key_id": "k1",
    }
    assert p.protect(entity, {field: None}, AT) == {key: None, "pseudonym_key_id": "k1"}
    with pytest.raises(ValueError, match="institution_id"):
        p.protect(entity, {field: "王伟"}, AT)


def test_other_entities_pass_through_but_their_ids() -> None:
    values = {"diagnosis_id": "D1", "icd_code": "J18.900"}
    p = Pseudonymizer(KEY)
    assert p.protect("diagnosis", values, AT, institution_id="A") == {
        "diagnosis_id": p.token("diagnosis", "A", "D1"),
        "icd_code": "J18.900",
    }


def test_the_key_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    secret = b"very-secret-key-0123456789"
    p = Pseudonymizer(secret)
    logging.getLogger("t").warning("pseudonymizer %s %r", p, p)
    for shown in (repr(p), str(p), caplog.text):
        assert secret.decode() not in shown
    assert not hasattr(p, "__dict__")  # vars() cannot dump it either


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        Pseudonymizer(b"short")


def test_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAMHUB_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("STREAMHUB_PSEUDONYM_KEY_FILE", raising=False)
    monkeypatch.delenv("STREAMHUB_PSEUDONYM_IDENTITY_KEY", raising=False)
    monkeypatch.delenv("STREAMHUB_PSEUDONYM_IDENTITY_KEY_FILE", raising=False)
    secret = tmp_path / "key"
    secret.write_text("0123456789abcdef0123\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pseudonym_identity_key").write_text("identity-0123456789abc\n")
    p = Pseudonymizer.from_settings(load_settings(data_dir=tmp_path, pseudonym_key_file=secret))
    assert p.person_key("01", ID) == Pseudonymizer(b"0123456789abcdef0123").person_key("01", ID)
    with pytest.raises(ConfigError, match="STREAMHUB_PSEUDONYM_KEY"):
        Pseudonymizer.from_settings(load_settings(data_dir=tmp_path / "empty"))
    secret.write_text("short\n")
    with pytest.raises(ConfigError, match="shorter"):
        Pseudonymizer.from_settings(load_settings(data_dir=tmp_path, pseudonym_key_file=secret))


def test_mask_observed() -> None:
    # personal identifiers are withheld whole: a mask narrowed the person down (issue 14)
    assert mask_observed("id_number", ID) is None
    assert mask_observed("name", "张三") is None
    assert mask_observed("doctor", "王伟") is None
    assert mask_observed("phone", "13512340001") is None
    assert mask_observed("address", "思明区嘉禾路12号") is None
    assert mask_observed("birth_date", date(1949, 12, 31)) is None
    assert mask_observed("icd_code", "Z99.999") == "Z99.999"
    assert mask_observed("icd_name", "1" * 200) == "1" * 79 + "…"
    # institution identifiers leave as keyed tokens: their clear value is withheld too
    assert mask_observed("study_uid", "1.2.3") is None
    assert mask_observed("accession_no", "ACC000017") is None
    assert mask_observed(None, None) is None


def test_masked_ids_of_generated_numbers_hide_birth_date_and_sequence() -> None:
    number = citizen_id.make("350203", date(1988, 7, 9), 123)
    masked = citizen_id.mask(number)
    assert masked.startswith("350203") and masked.endswith(number[-4:])
    assert "19880709" not in masked
