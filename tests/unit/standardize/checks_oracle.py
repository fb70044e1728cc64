"""The quality checks as they were before issue 17 (a dict of rule generators, run per record):
the oracle the compiled checks are compared with. A frozen copy of
src/streamhub/standardize/checks.py at f3933e1 (its docstring follows); do not change it.

Data-quality rules (DOMAIN.md 质控) on one record's clear mapped values.

Runs before pseudonymization, because checksums, agreements and completeness need the clear
ID number, name and birth date; an issue on a personal identifier carries no part of its value
(:func:`~streamhub.standardize.pseudonym.mask_observed` withholds it; messages name the field
and the reason only). Rule ids are stable: dashboards
and alerts count by them. A failed rule flags the record; it never stops it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from streamhub.codes import catalogue, citizen_id, icd10
from streamhub.codes.errors import InvalidIdentifierError
from streamhub.standardize.issues import Dimension, Issue, Severity
from streamhub.standardize.model import ENTITY_MODELS, REQUIRED_CLEAR_FIELDS, required_fields
from streamhub.standardize.pseudonym import mask_observed

Values = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Rule:
    dimension: Dimension
    severity: Severity
    summary: str


# error: the record is wrong as it stands; warning: suspicious, or only outside our catalogue
RULES: dict[str, Rule] = {
    "required": Rule("completeness", "error", "a required field is empty"),
    "id_checksum": Rule("accuracy", "error", "resident ID number fails GB 11643"),
    "id_sex_agreement": Rule("consistency", "error", "sex code disagrees with the ID number"),
    "id_birth_agreement": Rule("consistency", "error", "birth date disagrees with the ID number"),
    "region_code": Rule("conformance", "warning", "region code not in the regions catalogue"),
    "department_code": Rule("conformance", "error", "department code not in 诊疗科目"),
    "department_name": Rule("consistency", "warning", "department name disagrees with its code"),
    "icd_shape": Rule("conformance", "error", "diagnosis code is not shaped like ICD-10"),
    "icd_in_catalogue": Rule("conformance", "error", "diagnosis code not in the catalogue"),
    "icd_name_agreement": Rule("consistency", "warning", "diagnosis name disagrees with code"),
    "discharge_after_admission": Rule("consistency", "error", "discharged before admission"),
    "visit_after_registration": Rule("consistency", "error", "visited before registration"),
    "lab_time_order": Rule("consistency", "error", "lab times not request ≤ sample ≤ report"),
    "exam_time_order": Rule("consistency", "error", "exam reported before it was requested"),
    "charge_amount": Rule("accuracy", "error", "amount is not quantity × unit price"),
    "settlement_balance": Rule("accuracy", "error", "fund + self-paid is not the total"),
    "drug_code": Rule("conformance", "warning", "drug code not in the drugs catalogue"),
    "lab_item_code": Rule("conformance", "warning", "lab item code not in the catalogue"),
    "abnormal_flag_agreement": Rule("consistency", "warning", "flag disagrees with the range"),
    "exam_modality": Rule("conformance", "error", "modality is not a DICOM modality"),
    "study_uid": Rule("conformance", "error", "StudyInstanceUID is not a DICOM UID"),
    "accession_no": Rule("conformance", "error", "AccessionNumber is longer than 16"),
}

RESIDENT_ID = "01"  # CV02.01.101: only this document type follows GB 11643
MONEY_TOLERANCE = Decimal("0.01")
# DICOM PS3.3 C.7.3.1.1.1 modality defined terms that carry images or reports of an exam.
DICOM_MODALITIES = catalogue.MODALITIES | frozenset(
    {
        "AU",
        "BDUS",
        "BMD",
        "DG",
        "ECG",
        "EPS",
        "ES",
        "GM",
        "HD",
        "IO",
        "IVOCT",
        "IVUS",
        "LS",
        "OCT",
        "OP",
        "OPM",
        "OPT",
        "OT",
        "PX",
        "RG",
        "SM",
        "SR",
        "TG",
        "XC",
        "DOC",
    }
)
_UID = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")
UID_MAX = 64
ACCESSION_MAX = 16


# catalogue indexes, built once: the checks run on every record
@functools.cache
def _departments() -> dict[str, catalogue.Department]:
    return {d.code: d for d in catalogue.departments()}


@functools.cache
def _region_codes() -> frozenset[str]:
    return frozenset(r.code for r in catalogue.regions())


@functools.cache
def _drug_codes() -> frozenset[str]:
    return frozenset(d.code for d in catalogue.drugs())


@functools.cache
def _lab_item_codes() -> frozenset[str]:
    return frozenset(i.code for i in catalogue.lab_items())


def _issue(rule: str, message: str, field: str | None, value: object = None) -> Issue:
    spec = RULES[rule]
    return Issue(rule, spec.dimension, spec.severity, message, field, mask_observed(field, value))


def _text(values: Values, name: str) -> str | None:
    value = values.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _time(values: Values, name: str) -> datetime | None:
    value = values.get(name)
    return value if isinstance(value, datetime) else None


def _number(values: Values, name: str) -> Decimal | None:
    """Decimal, int or float as an exact Decimal (floats by their shortest repr)."""
    value = values.get(name)
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _not_before(rule: str, values: Values, earlier: str, later: str, what: str) -> Iterator[Issue]:
    first, second = _time(values, earlier), _time(values, later)
    if first is not None and second is not None and second < first:
        yield _issue(rule, f"{later} is before {earlier} ({what})", later, second)


# --- shared rules ----------------------------------------------------------------------------


def _required(entity: str, values: Values) -> Iterator[Issue]:
    # clear fields (name, ID number) are required too: checked here, before they are dropped
    for name in (*required_fields(ENTITY_MODELS[entity]), *REQUIRED_CLEAR_FIELDS.get(entity, ())):
        if _text(values, name) is None:
            yield _issue("required", f"required field {name} is empty", name)


def _department(values: Values) -> Iterator[Issue]:
    code = _text(values, "department_code")
    if code is None:
        return
    department = _departments().get(code)
    if department is None:
        yield _issue(
            "department_code",
            "department code is not a 诊疗科目 code (like 03.01)",
            "department_code",
            code,
        )
        return
    name = _text(values, "department_name")
    if name is not None and name != department.name:
        yield _issue(
            "department_name", f"department {code} is {department.name}", "department_name", name
        )


# --- per entity ------------------------------------------------------------------------------


def _patient(values: Values) -> Iterator[Issue]:
    yield from _resident_id(values)
    region = _text(values, "region_code")
    if region is not None and region not in _region_codes():
        yield _issue(
            "region_code",
            "region code is not a county in the regions catalogue",
            "region_code",
            region,
        )


def _resident_id(values: Values) -> Iterator[Issue]:
    number = _text(values, "id_number")
    if number is None or _text(values, "id_type") != RESIDENT_ID:
        return
    try:
        stated = citizen_id.parse(number.upper())
    except InvalidIdentifierError as exc:
        # the reason, never the number: exception messages may be logged
        yield _issue(
            "id_checksum",
            f"resident ID number is invalid ({exc.reason.value})",
            "id_number",
            number,
        )
        return
    sex = _text(values, "sex_code")
    if sex in ("1", "2") and int(sex) != stated.sex:
        yield _issue(
            "id_sex_agreement", "sex code disagrees with the ID number's sequence", "sex_code", sex
        )
    birth = values.get("birth_date")
    if isinstance(birth, datetime):
        birth = birth.date()
    if isinstance(birth, date) and birth != stated.birth_date:
        yield _issue(
            "id_birth_agreement", "birth date disagrees with the ID number", "birth_date", birth
        )


def _encounter(values: Values) -> Iterator[Issue]:
    yield from _department(values)
    if _text(values, "encounter_type") == "inpatient":
        yield from _not_before(
            "discharge_after_admission",
            values,
            "registered_time",
            "discharge_time",
            "an inpatient leaves after admission",
        )
    yield from _not_before(
        "visit_after_registration",
        values,
        "registered_time",
        "visit_time",
        "a visit follows its registration",
    )


def _diagnosis(values: Values) -> Iterator[Issue]:
    code = _text(values, "icd_code")
    if code is None:
        return
    if not icd10.is_well_formed(code):
        yield _issue(
            "icd_shape",
            "diagnosis code is not shaped like J18.900 or I50.900x007",
            "icd_code",
            code,
        )
        return
    known = catalogue.icd10_by_code().get(code)
    if known is None:
        yield _issue(
            "icd_in_catalogue", "diagnosis code is not in the ICD-10 catalogue", "icd_code", code
        )
        return
    name = _text(values, "icd_name")
    if name is not None and name != known.name:
        yield _issue("icd_name_agreement", f"{code} is {known.name}", "icd_name", name)


def _order(values: Values) -> Iterator[Issue]:
    code = _text(values, "drug_code")
    if code is not None and code not in _drug_codes():
        yield _issue("drug_code", "drug code is not in the drugs catalogue", "drug_code", code)


def _charge(values: Values) -> Iterator[Issue]:
    kind = _text(values, "charge_kind")
    if kind == "fee":
        yield from _fee_amount(values)
    elif kind == "settlement":
        yield from _settlement_balance(values)


def _fee_amount(values: Values) -> Iterator[Issue]:
    quantity, price = _number(values, "quantity"), _number(values, "unit_price")
    amount = _number(values, "amount")
    if quantity is None or price is None or amount is None:
        return
    expected = quantity * price
    if abs(amount - expected) > MONEY_TOLERANCE:
        yield _issue("charge_amount", f"quantity × unit price is {expected:.2f}", "amount", amount)


def _settlement_balance(values: Values) -> Iterator[Issue]:
    total, fund = _number(values, "total"), _number(values, "fund_paid")
    paid = _number(values, "self_paid")
    if total is None or fund is None or paid is None:
        return
    if abs(fund + paid - total) > MONEY_TOLERANCE:
        yield _issue("settlement_balance", f"fund + self-paid is {fund + paid:.2f}", "total", total)


def _lab_report(values: Values) -> Iterator[Issue]:
    yield from _department(values)
    what = "request ≤ sample ≤ report"
    yield from _not_before("lab_time_order", values, "requested_time", "sampled_time", what)
    yield from _not_before("lab_time_order", values, "sampled_time", "reported_time", what)
    if _time(values, "sampled_time") is None:  # still check the ends when no sample time
        yield from _not_before("lab_time_order", values, "requested_time", "reported_time", what)


def _lab_result(values: Values) -> Iterator[Issue]:
    code = _text(values, "item_code")
    if code is not None and code not in _lab_item_codes():
        yield _issue(
            "lab_item_code", "lab item code is not in the lab items catalogue", "item_code", code
        )
    yield from _abnormal_flag(values)


def _abnormal_flag(values: Values) -> Iterator[Issue]:
    value, flag = _number(values, "value_num"), _text(values, "abnormal_flag")
    low, high = _number(values, "ref_low"), _number(values, "ref_high")
    if value is None or flag is None or (low is None and high is None):
        return
    if low is not None and value < low:
        expected = "L"
    elif high is not None and value > high:
        expected = "H"
    else:
        expected = "N"
    if flag != expected:
        yield _issue(
            "abnormal_flag_agreement",
            f"value {value} against range {low}..{high} means {expected}",
            "abnormal_flag",
            flag,
        )


def _exam(values: Values) -> Iterator[Issue]:
    modality = _text(values, "modality")
    if modality is not None and modality not in DICOM_MODALITIES:
        yield _issue(
            "exam_modality",
            "modality is not a DICOM modality term (CT, MR, US …)",
            "modality",
            modality,
        )
    uid = _text(values, "study_uid")
    if uid is not None and (len(uid) > UID_MAX or not _UID.fullmatch(uid)):
        yield _issue(
            "study_uid", f"a DICOM UID is ≤ {UID_MAX} dot-separated numbers", "study_uid", uid
        )
    accession = _text(values, "accession_no")
    if accession is not None and len(accession) > ACCESSION_MAX:
        yield _issue(
            "accession_no",
            f"AccessionNumber has {len(accession)} characters",
            "accession_no",
            accession,
        )
    yield from _not_before(
        "exam_time_order", values, "requested_time", "reported_time", "a report follows its request"
    )


_ENTITY_RULES: dict[str, Callable[[Values], Iterator[Issue]]] = {
    "patient": _patient,
    "encounter": _encounter,
    "diagnosis": _diagnosis,
    "order": _order,
    "charge": _charge,
    "lab_report": _lab_report,
    "lab_result": _lab_result,
    "exam": _exam,
}


def check(entity: str, values: Mapping[str, object]) -> list[Issue]:
    """Every rule violation of one mapped record, completeness first."""
    if entity not in ENTITY_MODELS:
        raise ValueError(f"unknown entity {entity!r}; expected one of {sorted(ENTITY_MODELS)}")
    return [*_required(entity, values), *_ENTITY_RULES[entity](values)]
