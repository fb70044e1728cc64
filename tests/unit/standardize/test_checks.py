"""Quality rules: each fires on a crafted bad value and not on clean ones; the simulator's
clean records raise nothing and its planted bad records raise the matching rule."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from streamhub.codes import catalogue, citizen_id
from streamhub.simulate.activity import load_activity
from streamhub.simulate.business_time import DayCurve
from streamhub.simulate.flows import InstitutionWorkload
from streamhub.simulate.institutions import plan_institutions
from streamhub.simulate.people import PeopleFactory, corrupt_check_char
from streamhub.simulate.records import ENTITIES
from streamhub.standardize.checks import DICOM_MODALITIES, RULES, check
from streamhub.standardize.model import ENTITY_MODELS

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SEX = {"male": "1", "female": "2"}
FLAG = {"high": "H", "low": "L", "normal": "N"}


def _person() -> Any:
    rng = random.Random(7)
    return PeopleFactory(rng, date(2026, 3, 2), ["嘉禾路"]).person()


def clean(entity: str) -> dict[str, object]:
    """Values as the mapper delivers them, built from the simulator's generators/catalogues."""
    department = catalogue.departments()[1]
    diagnosis = catalogue.icd10()[0]
    drug = catalogue.drugs()[0]
    lab = catalogue.lab_items()[0]
    exam = catalogue.exam_items()[0]
    if entity == "patient":
        p = _person()
        return {
            "patient_id": "P1",
            "id_type": "01",
            "id_number": p.id_number,
            "name": p.name,
            "sex_code": SEX[p.sex],
            "birth_date": p.birth_date,
            "phone": p.phone,
            "address": p.address,
            "region_code": p.region_code,
        }
    values: dict[str, dict[str, object]] = {
        "encounter": {
            "encounter_id": "E1",
            "patient_id": "P1",
            "encounter_type": "inpatient",
            "department_code": department.code,
            "department_name": department.name,
            "doctor": "王伟",
            "registered_time": T0,
            "discharge_time": T0 + timedelta(days=3),
        },
        "diagnosis": {
            "diagnosis_id": "D1",
            "patient_id": "P1",
            "encounter_id": "E1",
            "icd_code": diagnosis.code,
            "icd_name": diagnosis.name,
            "diagnosed_time": T0,
        },
        "order": {
            "order_id": "O1",
            "patient_id": "P1",
            "encounter_id": "E1",
            "drug_code": drug.code,
            "drug_name": drug.name,
            "quantity": Decimal(2),
            "ordered_time": T0,
        },
        "charge": {
            "charge_id": "C1",
            "charge_kind": "fee",
            "patient_id": "P1",
            "item_code": drug.code,
            "quantity": Decimal(3),
            "unit_price": drug.price,
            "amount": drug.price * 3,
            "charged_time": T0,
        },
        "lab_report": {
            "report_id": "R1",
            "patient_id": "P1",
            "department_code": "30",
            "requested_time": T0,
            "sampled_time": T0 + timedelta(minutes=5),
            "reported_time": T0 + timedelta(hours=1),
            "verifier": "李娜",
        },
        "lab_result": {
            "result_id": "L1",
            "report_id": "R1",
            "item_code": lab.code,
            "value_num": (lab.low + lab.high) / 2,
            "ref_low": lab.low,
            "ref_high": lab.high,
            "abnormal_flag": "N",
        },
        "exam": {
            "exam_id": "X1",
            "patient_id": "P1",
            "accession_no": "01260300001234",
            "study_uid": "1.2.156.112605.1.20260302010000.1234",
            "modality": exam.modality,
            "requested_time": T0,
            "reported_time": T0 + timedelta(minutes=40),
        },
    }
    return values[entity]


SETTLEMENT = {
    "charge_id": "S1",
    "charge_kind": "settlement",
    "patient_id": "P1",
    "total": Decimal("100.00"),
    "fund_paid": Decimal("70.00"),
    "self_paid": Decimal("30.00"),
    "charged_time": T0,
}


def _rules(entity: str, values: dict[str, object]) -> list[str]:
    return [issue.rule for issue in check(entity, values)]


@pytest.mark.parametrize("entity", sorted(ENTITY_MODELS))
def test_clean_values_raise_nothing(entity: str) -> None:
    assert check(entity, clean(entity)) == []


def test_a_clean_settlement_raises_nothing() -> None:
    assert check("charge", SETTLEMENT) == []


def _wrong_sex() -> str:
    return {"1": "2", "2": "1"}[str(clean("patient")["sex_code"])]


def _wrong_birth() -> date:
    birth = clean("patient")["birth_date"]
    assert isinstance(birth, date)
    return birth + timedelta(days=1)


def _bad_checksum() -> str:
    return corrupt_check_char(str(clean("patient")["id_number"]), random.Random(1))


BAD: list[tuple[str, str, dict[str, object]]] = [
    ("required", "patient", {"name": None}),
    ("required", "patient", {"id_number": "  "}),
    ("required", "encounter", {"registered_time": None}),
    ("required", "exam", {"modality": None}),
    ("id_checksum", "patient", {"id_number": _bad_checksum()}),
    ("id_checksum", "patient", {"id_number": "1101051949123"}),
    ("id_sex_agreement", "patient", {"sex_code": _wrong_sex()}),
    ("id_birth_agreement", "patient", {"birth_date": _wrong_birth()}),
    ("region_code", "patient", {"region_code": "110105"}),
    ("department_code", "encounter", {"department_code": "99.99", "department_name": None}),
    ("department_code", "lab_report", {"department_code": "3000"}),
    ("department_name", "encounter", {"department_name": "骨科"}),
    ("icd_shape", "diagnosis", {"icd_code": "j18.900"}),
    ("icd_in_catalogue", "diagnosis", {"icd_code": "Z99.999"}),
    ("icd_name_agreement", "diagnosis", {"icd_name": "高血压"}),
    ("discharge_after_admission", "encounter", {"discharge_time": T0 - timedelta(hours=2)}),
    (
        "visit_after_registration",
        "encounter",
        {
            "encounter_type": "outpatient",
            "discharge_time": None,
            "visit_time": T0 - timedelta(minutes=1),
        },
    ),
    ("lab_time_order", "lab_report", {"sampled_time": T0 - timedelta(minutes=1)}),
    ("lab_time_order", "lab_report", {"reported_time": T0 + timedelta(minutes=1)}),
    (
        "lab_time_order",
        "lab_report",
        {"sampled_time": None, "reported_time": T0 - timedelta(minutes=1)},
    ),
    ("exam_time_order", "exam", {"reported_time": T0 - timedelta(minutes=1)}),
    ("charge_amount", "charge", {"amount": Decimal("1.00")}),
    ("drug_code", "order", {"drug_code": "YP9999"}),
    ("lab_item_code", "lab_result", {"item_code": "XYZ"}),
    ("abnormal_flag_agreement", "lab_result", {"abnormal_flag": "H"}),
    ("abnormal_flag_agreement", "lab_result", {"value_num": 0.5, "abnormal_flag": "N"}),
    ("abnormal_flag_agreement", "lab_result", {"value_num": 99.0, "abnormal_flag": "L"}),
    ("exam_modality", "exam", {"modality": "XRAY"}),
    ("study_uid", "exam", {"study_uid": "1.2.03.4"}),
    ("study_uid", "exam", {"study_uid": "1." + "2" * 63}),
    ("accession_no", "exam", {"accession_no": "A" * 17}),
]


@pytest.mark.parametrize(("rule", "entity", "change"), BAD, ids=[f"{r}-{e}" for r, e, _ in BAD])
def test_each_rule_fires_on_a_crafted_bad_value(
    rule: str, entity: str, change: dict[str, object]
) -> None:
    issues = check(entity, {**clean(entity), **change})
    assert [i.rule for i in issues] == [rule]
    issue = issues[0]
    assert (issue.dimension, issue.severity) == (RULES[rule].dimension, RULES[rule].severity)
    assert issue.field is not None


def test_every_rule_has_a_crafted_case() -> None:
    assert {rule for rule, _, _ in BAD} | {"settlement_balance"} == set(RULES)


def test_settlement_must_balance() -> None:
    rules = _rules("charge", {**SETTLEMENT, "self_paid": Decimal("29.98")})
    assert rules == ["settlement_balance"]
    refund = {
        **SETTLEMENT,
        "total": Decimal("-100.00"),
        "fund_paid": Decimal("-70.00"),
        "self_paid": Decimal("-30.00"),
    }
    assert check("charge", refund) == []


def test_charge_amount_tolerates_a_cent_of_rounding() -> None:
    values = {
        **clean("charge"),
        "quantity": Decimal(3),
        "unit_price": Decimal("3.333"),
        "amount": Decimal("10.00"),
    }
    assert check("charge", values) == []


def test_protected_required_fields_are_checked_on_their_clear_source() -> None:
    issues = check("patient", {**clean("patient"), "name": None, "id_number": None})
    assert {(i.rule, i.field) for i in issues} == {("required", "name"), ("required", "id_number")}


def test_address_is_optional() -> None:
    assert check("patient", {**clean("patient"), "address": None}) == []


def test_id_rules_apply_to_resident_ids_only() -> None:
    passport = {**clean("patient"), "id_type": "03", "id_number": "E12345678"}
    assert check("patient", passport) == []


def test_a_lower_case_check_character_is_accepted() -> None:
    number = citizen_id.make("110105", date(1949, 12, 31), 2)
    assert number.endswith("X")
    values = {
        **clean("patient"),
        "id_number": number.lower(),
        "sex_code": "2",
        "birth_date": date(1949, 12, 31),
    }
    assert check("patient", values) == []


def test_discharge_order_is_only_judged_for_inpatients() -> None:
    values = {
        **clean("encounter"),
        "encounter_type": "outpatient",
        "discharge_time": T0 - timedelta(hours=1),
    }
    assert check("encounter", values) == []


def test_observed_identifiers_are_withheld() -> None:
    # a mask (region + sequence + check digit, birth year) narrowed the person down: withheld
    patient = clean("patient")
    bad = _bad_checksum()
    (issue,) = check("patient", {**patient, "id_number": bad})
    assert issue.observed is None
    assert bad not in f"{issue}" and bad[6:14] not in f"{issue}" and bad[-4:] not in f"{issue}"
    assert citizen_id.mask(bad) not in f"{issue}"
    (issue,) = check("patient", {**patient, "birth_date": _wrong_birth()})
    assert issue.observed is None and str(_wrong_birth().year) not in f"{issue}"


def test_unknown_entity_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown entity"):
        check("visit", {})


def test_the_modality_list_covers_the_exam_catalogue() -> None:
    assert {e.modality for e in catalogue.exam_items()} <= DICOM_MODALITIES


# --- the simulator's own records ----------------------------------------------------------------

START = datetime(2026, 3, 2, 8, 0)


def _utc(value: object) -> object:
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


def _id(value: object) -> str | None:
    return None if value is None else str(value)


def to_values(entity: str, row: dict[str, object]) -> tuple[str, dict[str, object]]:
    """A simulator row (canonical vocabulary) in the mapper's output shape: what a correct
    profile produces. Deliberately small: the real mapping is the mapper's job."""
    r = {k: _utc(v) for k, v in row.items()}
    if entity == "patient":
        address = r["address"]
        return "patient", {
            "patient_id": _id(r["patient_id"]),
            "name": r["name"],
            "sex_code": SEX.get(str(r["sex"])),
            "birth_date": r["birth_date"],
            "id_type": "01" if r["id_type"] == "resident_id" else "99",
            "id_number": r["id_number"],
            "phone": r["phone"],
            "address": address if isinstance(address, str) else None,  # undecodable -> None
            "region_code": r["region_code"],
        }
    if entity in ("registration", "admission"):
        inpatient = entity == "admission"
        return "encounter", {
            "encounter_id": _id(r[f"{entity}_id"]),
            "patient_id": _id(r["patient_id"]),
            "encounter_type": "inpatient" if inpatient else r["visit_type"],
            "visit_no": r["admission_no" if inpatient else "visit_no"],
            "department_code": r["department"],
            "department_name": r["department_name"],
            "doctor": r.get("doctor"),
            "registered_time": r["admitted_at" if inpatient else "registered_at"],
            "visit_time": r.get("visited_at"),
            "discharge_time": r.get("discharged_at"),
        }
    if entity == "diagnosis":
        return "diagnosis", {
            "diagnosis_id": _id(r["diagnosis_id"]),
            "patient_id": _id(r["patient_id"]),
            "encounter_id": _id(r["encounter_id"]),
            "icd_code": r["icd_code"],
            "icd_name": r["icd_name"],
            "diagnosed_time": r["diagnosed_at"],
        }
    if entity == "order":
        return "order", {
            "order_id": _id(r["order_id"]),
            "patient_id": _id(r["patient_id"]),
            "encounter_id": _id(r["encounter_id"]),
            "drug_code": r["drug_code"],
            "quantity": r["quantity"],
            "ordered_time": r["ordered_at"],
        }
    if entity == "charge":
        return "charge", {
            "charge_id": _id(r["charge_id"]),
            "charge_kind": "fee",
            "patient_id": _id(r["patient_id"]),
            "quantity": r["quantity"],
            "unit_price": r["unit_price"],
            "amount": r["amount"],
            "charged_time": r["charged_at"],
        }
    if entity == "settlement":
        return "charge", {
            "charge_id": _id(r["settlement_id"]),
            "charge_kind": "settlement",
            "patient_id": _id(r["patient_id"]),
            "total": r["total"],
            "fund_paid": r["fund_paid"],
            "self_paid": r["self_paid"],
            "charged_time": r["settled_at"],
        }
    if entity == "lab_report":
        return "lab_report", {
            "report_id": _id(r["report_id"]),
            "patient_id": _id(r["patient_id"]),
            "department_code": r["department"],
            "requested_time": r["requested_at"],
            "sampled_time": r["sampled_at"],
            "reported_time": r["reported_at"],
            "verifier": r["verifier"],
        }
    if entity == "lab_result":
        return "lab_result", {
            "result_id": _id(r["result_id"]),
            "report_id": _id(r["report_id"]),
            "item_code": r["item_code"],
            "value_num": float(str(r["value_num"])),
            "ref_low": float(str(r["ref_low"])),
            "ref_high": float(str(r["ref_high"])),
            "abnormal_flag": FLAG[str(r["flag"])],
        }
    assert entity == "exam_report"
    return "exam", {
        "exam_id": _id(r["exam_id"]),
        "patient_id": _id(r["patient_id"]),
        "accession_no": r["accession_no"],
        "study_uid": r["study_uid"],
        "modality": r["modality"],
        "requested_time": r["requested_at"],
        "reported_time": r["reported_at"],
    }


def _simulated_day(seed: int) -> tuple[dict[tuple[str, int], dict[str, object]], Any]:
    """Every row's last state after a few simulated hours of one hospital, bad records planted."""
    activity = load_activity()
    inst = plan_institutions(hospitals=1, clinics=0, dialects=["pinyin_gbk"], seed=seed)[0]
    workload = InstitutionWorkload(
        inst,
        activity,
        seed=seed,
        start=START,
        rows_per_second=50.0,
        rows_per_arrival=15.0,
        compression=60.0,
        curve=DayCurve(activity.day_curve),
    )
    workload.configure(
        bad_fraction=0.08,
        bad_kinds=(
            "bad_id_checksum",
            "unknown_code",
            "missing_required",
            "undecodable_text",
            "discharge_before_admission",
        ),
        raw_text=True,
    )
    workload.seed_state(60, 25)
    changes = workload.take_seeded()
    while workload.next_time() < START + timedelta(hours=6):
        changes.extend(workload.step())
    rows: dict[tuple[str, int], dict[str, object]] = {}
    for change in changes:
        if change.op == "d":
            rows.pop((change.entity, change.key), None)
        elif change.op == "c":
            rows[(change.entity, change.key)] = dict(change.values or {})
        else:
            rows[(change.entity, change.key)].update(change.values or {})
    return rows, workload


EXPECTED_RULE = {
    "bad_id_checksum": "id_checksum",
    "missing_required": "required",
    "unknown_code": "icd_in_catalogue",
    "discharge_before_admission": "discharge_after_admission",
    "undecodable_text": None,  # arrives as address None: optional, so nothing to flag
}


def test_simulated_records_raise_exactly_their_planted_rules() -> None:
    rows, workload = _simulated_day(11)  # a seed whose six hours plant every kind
    planted = {(p.entity, p.key): p.kind for p in workload.planted}
    assert set(planted.values()) == set(EXPECTED_RULE)
    entities_seen: set[str] = set()
    for (entity, key), row in rows.items():
        std_entity, values = to_values(entity, {ENTITIES[entity][0]: key, **row})
        entities_seen.add(std_entity)
        rules = _rules(std_entity, values)
        kind = planted.get((entity, key))
        if kind is None:
            assert rules == [], (entity, key, check(std_entity, values))
        elif EXPECTED_RULE[kind] is None:
            assert rules == [], (entity, key, kind)
        else:
            assert rules == [EXPECTED_RULE[kind]], (entity, key, kind)
    assert entities_seen == set(ENTITY_MODELS)
