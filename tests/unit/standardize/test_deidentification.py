"""De-identification of patients (docs/decisions/privacy.md, issue 14 item 2-3, issue 15 item 2):
ages on the Shanghai date, no partial identifiers, no personal value in a quality issue."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from streamhub.codes import citizen_id
from streamhub.simulate.people import corrupt_check_char
from streamhub.standardize.checks import check
from streamhub.standardize.issues import Issue
from streamhub.standardize.mapper import map_row
from streamhub.standardize.model import ENTITY_MODELS, Patient
from streamhub.standardize.profile import load_profile
from streamhub.standardize.pseudonym import Pseudonymizer, age_band_at, shanghai_date

KEY = b"k" * 32
BIRTHDAY = date(1946, 3, 2)  # 80 on 2026-03-02: the decade birthday moves the band to 80+


# --- ages at the Shanghai date ----------------------------------------------------------------


def test_shanghai_date_of_a_utc_time() -> None:
    assert shanghai_date(datetime(2026, 3, 1, 16, 30, tzinfo=UTC)) == date(2026, 3, 2)
    assert shanghai_date(datetime(2026, 3, 1, 15, 59, tzinfo=UTC)) == date(2026, 3, 1)
    assert shanghai_date(datetime(2026, 3, 1, 16, 30)) == date(2026, 3, 2)  # naive is UTC


@pytest.mark.parametrize(
    ("at", "band"),
    [
        (datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC), "70-79"),  # 23:59:59 Beijing, 1 March
        (datetime(2026, 3, 1, 16, 0, tzinfo=UTC), "80+"),  # midnight Beijing on the birthday
        (datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "80+"),  # 00:30 Beijing: the UTC date lags
        (datetime(2026, 3, 1, 23, 59, tzinfo=UTC), "80+"),  # 07:59 Beijing
    ],
)
def test_age_band_turns_at_beijing_midnight_on_the_birthday(at: datetime, band: str) -> None:
    assert age_band_at(BIRTHDAY, at) == band
    values = {"patient_id": "P1", "birth_date": BIRTHDAY, "sex_code": "1"}
    out = Pseudonymizer(KEY).protect("patient", values, at, institution_id="A")
    assert out["age_band"] == band


def test_a_ten_year_band_turns_the_same_way() -> None:
    birth = date(2016, 3, 2)
    assert age_band_at(birth, datetime(2026, 3, 1, 16, 30, tzinfo=UTC)) == "10-19"
    assert age_band_at(birth, datetime(2026, 3, 1, 15, 30, tzinfo=UTC)) == "0-9"


# --- what leaves about a patient --------------------------------------------------------------


def test_no_partial_identifier_is_a_patient_field() -> None:
    fields = set(Patient.model_fields)
    assert not {"id_number_masked", "name_masked", "phone_masked", "birth_year"} & fields
    assert {"person_key", "sex_code", "age_band", "region_code", "region_name"} <= fields


def test_region_is_generalized_to_the_prefecture() -> None:
    values = {"patient_id": "P1", "region_code": "350203", "region_name": "厦门市思明区"}
    out = Pseudonymizer(KEY).protect("patient", values, None, institution_id="A")
    assert (out["region_code"], out["region_name"]) == ("350200", "厦门市")
    values = {"patient_id": "P1", "region_code": "350503", "region_name": "泉州市丰泽区"}
    out = Pseudonymizer(KEY).protect("patient", values, None, institution_id="A")
    assert (out["region_code"], out["region_name"]) == ("350500", "泉州市")
    out = Pseudonymizer(KEY).protect(
        "patient", {"patient_id": "P1", "region_name": "思明区"}, None, institution_id="A"
    )
    assert (out["region_code"], out["region_name"]) == (None, None)  # no code: suppressed


def test_required_name_and_id_number_are_checked_on_the_clear_values() -> None:
    issues = check("patient", {"patient_id": "P1", "sex_code": "1", "id_type": "01"})
    assert {(i.rule, i.field) for i in issues} == {("required", "name"), ("required", "id_number")}
    assert not [f for f in ENTITY_MODELS["patient"].model_fields if f.endswith("_masked")]


# --- quality issues quote no personal value -----------------------------------------------------


def _pieces(value: str, size: int = 3) -> set[str]:
    """Every run of ``size`` characters (digits: 4) of a clear value."""
    size = 4 if value.isascii() else size
    return {value[i : i + size] for i in range(len(value) - size + 1)} or {value}


def _assert_quotes_none_of(issues: list[Issue], clear: str) -> None:
    assert issues
    for issue in issues:
        text = f"{issue.message} {issue.observed or ''}"
        leaked = [p for p in _pieces(clear) if p in text]
        assert not leaked, (issue, leaked)
        assert issue.observed is None


@pytest.fixture
def leaky_profile(tmp_path: Path):  # a profile whose every personal column can go wrong
    path = tmp_path / "leaky.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "leaky",
                "version": 1,
                "vendor": "test",
                "crosswalks": {"names": {"张三": "张三"}, "sex": {"1": "1", "2": "2"}},
                "tables": {
                    "PAT": {
                        "entity": "patient",
                        "fields": {
                            "patient_id": "ID",
                            "name": {"from": "XM", "crosswalk": "names"},
                            "phone": {"from": "DH", "derive": "department_code"},
                            "birth_date": {"from": "CSRQ", "format": "%Y%m%d"},
                            "id_type": {"const": "01"},
                            "id_number": {"from": "SFZH", "derive": "department_code"},
                            "sex_code": {"from": "XB", "crosswalk": "sex"},
                        },
                    }
                },
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    return load_profile(path)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("CSRQ", "1985-03-02"),  # a birth date in the wrong format (the issue's example)
        ("SFZH", "11010519491231002X"),  # an ID number a derivation cannot read
        ("XM", "欧阳娜娜"),  # a name the crosswalk does not know
        ("DH", "13512340001"),  # a phone a derivation cannot read
    ],
)
def test_a_bad_personal_value_is_not_quoted(leaky_profile, column: str, value: str) -> None:
    row = {"ID": "1", "XB": "1", "XM": "张三", "CSRQ": "19850302", column: value}
    if column != "SFZH":
        row["SFZH"] = None
    mapped = map_row(leaky_profile, "PAT", row)
    _assert_quotes_none_of(mapped.issues, value)
    assert column in mapped.issues[0].message  # the operator learns where to look


def test_a_bad_id_number_in_the_checks_is_not_quoted() -> None:
    good = citizen_id.make("350203", date(1985, 3, 2), 17)
    bad = corrupt_check_char(good, random.Random(3))
    values = {
        "patient_id": "P1",
        "name": "张三",
        "sex_code": "1",
        "id_type": "01",
        "id_number": bad,
        "birth_date": date(1985, 3, 3),
    }
    issues = check("patient", values)
    assert {i.rule for i in issues} == {"id_checksum"}
    _assert_quotes_none_of(issues, bad)
    values["id_number"] = good
    issues = check("patient", values)  # the birth date disagrees with the number
    assert {i.rule for i in issues} == {"id_birth_agreement"}
    _assert_quotes_none_of(issues, "19850303")
    assert "1985" not in f"{issues[0]}"


def test_non_personal_values_are_quoted_but_capped(leaky_profile) -> None:
    mapped = map_row(leaky_profile, "PAT", {"ID": "1", "XB": "7" * 300})
    [issue] = mapped.issues
    assert issue.field == "sex_code" and "7" * 39 + "…" in issue.message
    assert "7" * 41 not in issue.message


def test_an_institution_identifier_failing_a_check_is_not_quoted() -> None:
    """Accession numbers and DICOM UIDs leave as keyed tokens; their clear value must not
    reach ops.quality through a failed check either."""
    accession = "ACC-2026-0302-000017"  # 20 characters: over DICOM's 16
    uid = "1.2.840.10008.5.1.4.1.1.2.0x7F"  # a letter: not a DICOM UID
    issues = check("exam", {"accession_no": accession, "study_uid": uid, "modality": "CT"})
    flagged = {issue.rule: issue for issue in issues}
    assert {"accession_no", "study_uid"} <= set(flagged)
    for issue in flagged.values():
        assert issue.observed is None or (
            accession not in issue.observed and uid not in issue.observed
        )
        assert accession not in issue.message and uid not in issue.message
