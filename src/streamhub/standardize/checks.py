"""Data-quality rules (DOMAIN.md 质控) on one record's clear mapped values.

Runs before pseudonymization, because checksums, agreements and completeness need the clear
ID number, name and birth date; an issue on a personal identifier carries no part of its value
(:func:`~streamhub.standardize.pseudonym.mask_observed` withholds it; messages name the field
and the reason only). Rule ids are stable: dashboards
and alerts count by them. A failed rule flags the record; it never stops it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
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


# Types whose str() is never blank: a required field holding one is present, without the cost
# of formatting it (str() of a datetime takes longer than all the rest of a record's checks).
_NEVER_BLANK = frozenset({datetime, date, Decimal, int, float, bool})
_FLOAT_OR_NONE = frozenset({float, type(None)})

Out = list[Issue]
Rules = Callable[[Values, Out], None]  # appends the issues of one record to the list
Checker = Callable[[Values], list[Issue]]


def _issue(rule: str, message: str, field: str | None, value: object = None) -> Issue:
    spec = RULES[rule]
    return Issue(rule, spec.dimension, spec.severity, message, field, mask_observed(field, value))


def _text(value: object) -> str | None:
    """The value as stripped text; None when absent or blank."""
    if value is None:
        return None
    text = (value if value.__class__ is str else str(value)).strip()
    return text or None


def _number(value: object) -> Decimal | None:
    """Decimal, int or float as an exact Decimal (floats by their shortest repr)."""
    if value.__class__ is Decimal:  # what the mapper delivers: no conversion
        return value if value.is_finite() else None
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _not_before(rule: str, earlier: str, later: str, what: str) -> Rules:
    """``later`` must not be before ``earlier`` when both are times."""
    message = f"{later} is before {earlier} ({what})"

    def run(values: Values, out: Out) -> None:
        second = values.get(later)
        if isinstance(second, datetime):
            first = values.get(earlier)
            if isinstance(first, datetime) and second < first:
                out.append(_issue(rule, message, later, second))

    return run


# --- shared rules ----------------------------------------------------------------------------


def _department() -> Rules:
    departments = {d.code: d for d in catalogue.departments()}

    def run(values: Values, out: Out) -> None:
        code = _text(values.get("department_code"))
        if code is None:
            return
        department = departments.get(code)
        if department is None:
            out.append(
                _issue(
                    "department_code",
                    "department code is not a 诊疗科目 code (like 03.01)",
                    "department_code",
                    code,
                )
            )
            return
        name = _text(values.get("department_name"))
        if name is not None and name != department.name:
            out.append(
                _issue(
                    "department_name",
                    f"department {code} is {department.name}",
                    "department_name",
                    name,
                )
            )

    return run


def _in_catalogue(rule: str, field: str, codes: frozenset[str], message: str) -> Rules:
    """A code field whose value must be one of ``codes`` (when given)."""

    def run(values: Values, out: Out) -> None:
        code = _text(values.get(field))
        if code is not None and code not in codes:
            out.append(_issue(rule, message, field, code))

    return run


# --- per entity: each builder binds its catalogue indexes once -------------------------------


def _patient() -> Rules:
    region = _in_catalogue(
        "region_code",
        "region_code",
        frozenset(r.code for r in catalogue.regions()),
        "region code is not a county in the regions catalogue",
    )

    def run(values: Values, out: Out) -> None:
        _resident_id(values, out)
        region(values, out)

    return run


def _resident_id(values: Values, out: Out) -> None:
    number = _text(values.get("id_number"))
    if number is None or _text(values.get("id_type")) != RESIDENT_ID:
        return
    try:
        stated_birth, stated_sex = citizen_id.birth_and_sex(number.upper())
    except InvalidIdentifierError as exc:
        # the reason, never the number: exception messages may be logged
        out.append(
            _issue(
                "id_checksum",
                f"resident ID number is invalid ({exc.reason.value})",
                "id_number",
                number,
            )
        )
        return
    sex = _text(values.get("sex_code"))
    if sex in ("1", "2") and int(sex) != stated_sex:
        out.append(
            _issue(
                "id_sex_agreement",
                "sex code disagrees with the ID number's sequence",
                "sex_code",
                sex,
            )
        )
    birth = values.get("birth_date")
    if isinstance(birth, datetime):
        birth = birth.date()
    if isinstance(birth, date) and birth != stated_birth:
        out.append(
            _issue(
                "id_birth_agreement", "birth date disagrees with the ID number", "birth_date", birth
            )
        )


def _encounter() -> Rules:
    department = _department()
    discharge = _not_before(
        "discharge_after_admission",
        "registered_time",
        "discharge_time",
        "an inpatient leaves after admission",
    )
    visit = _not_before(
        "visit_after_registration",
        "registered_time",
        "visit_time",
        "a visit follows its registration",
    )

    def run(values: Values, out: Out) -> None:
        department(values, out)
        if _text(values.get("encounter_type")) == "inpatient":
            discharge(values, out)
        visit(values, out)

    return run


def _diagnosis() -> Rules:
    # a catalogue code is well formed (the catalogue loader refuses others), so the shape is
    # only tested on codes outside it: the same issue either way, without a regex per record
    known_codes = dict(catalogue.icd10_by_code())
    well_formed = icd10.is_well_formed

    def run(values: Values, out: Out) -> None:
        code = _text(values.get("icd_code"))
        if code is None:
            return
        known = known_codes.get(code)
        if known is None:
            if not well_formed(code):
                out.append(
                    _issue(
                        "icd_shape",
                        "diagnosis code is not shaped like J18.900 or I50.900x007",
                        "icd_code",
                        code,
                    )
                )
            else:
                out.append(
                    _issue(
                        "icd_in_catalogue",
                        "diagnosis code is not in the ICD-10 catalogue",
                        "icd_code",
                        code,
                    )
                )
            return
        name = _text(values.get("icd_name"))
        if name is not None and name != known.name:
            out.append(_issue("icd_name_agreement", f"{code} is {known.name}", "icd_name", name))

    return run


def _order() -> Rules:
    return _in_catalogue(
        "drug_code",
        "drug_code",
        frozenset(d.code for d in catalogue.drugs()),
        "drug code is not in the drugs catalogue",
    )


def _charge() -> Rules:
    def run(values: Values, out: Out) -> None:
        kind = _text(values.get("charge_kind"))
        if kind == "fee":
            _fee_amount(values, out)
        elif kind == "settlement":
            _settlement_balance(values, out)

    return run


def _fee_amount(values: Values, out: Out) -> None:
    quantity, price = _number(values.get("quantity")), _number(values.get("unit_price"))
    amount = _number(values.get("amount"))
    if quantity is None or price is None or amount is None:
        return
    expected = quantity * price
    if abs(amount - expected) > MONEY_TOLERANCE:
        out.append(
            _issue("charge_amount", f"quantity × unit price is {expected:.2f}", "amount", amount)
        )


def _settlement_balance(values: Values, out: Out) -> None:
    total, fund = _number(values.get("total")), _number(values.get("fund_paid"))
    paid = _number(values.get("self_paid"))
    if total is None or fund is None or paid is None:
        return
    if abs(fund + paid - total) > MONEY_TOLERANCE:
        out.append(
            _issue("settlement_balance", f"fund + self-paid is {fund + paid:.2f}", "total", total)
        )


def _lab_report() -> Rules:
    department = _department()
    what = "request ≤ sample ≤ report"
    sampled = _not_before("lab_time_order", "requested_time", "sampled_time", what)
    reported = _not_before("lab_time_order", "sampled_time", "reported_time", what)
    ends = _not_before("lab_time_order", "requested_time", "reported_time", what)

    def run(values: Values, out: Out) -> None:
        department(values, out)
        sampled(values, out)
        reported(values, out)
        if not isinstance(values.get("sampled_time"), datetime):  # check the ends without it
            ends(values, out)

    return run


def _lab_result() -> Rules:
    item = _in_catalogue(
        "lab_item_code",
        "item_code",
        frozenset(i.code for i in catalogue.lab_items()),
        "lab item code is not in the lab items catalogue",
    )

    def run(values: Values, out: Out) -> None:
        item(values, out)
        _abnormal_flag(values, out)

    return run


def _abnormal_flag(values: Values, out: Out) -> None:
    flag = _text(values.get("abnormal_flag"))
    if flag is None:
        return
    raw, raw_low, raw_high = values.get("value_num"), values.get("ref_low"), values.get("ref_high")
    value: Decimal | float | None
    low: Decimal | float | None
    high: Decimal | float | None
    if raw.__class__ is float and {raw_low.__class__, raw_high.__class__} <= _FLOAT_OR_NONE:
        # finite floats order as the Decimals of their shortest reprs do (rounding to the
        # nearest float is monotonic), so the usual all-float result needs no Decimal
        value, low, high = _finite(raw), _finite(raw_low), _finite(raw_high)
    else:
        value, low, high = _number(raw), _number(raw_low), _number(raw_high)
    if value is None or (low is None and high is None):
        return
    if low is not None and value < low:
        expected = "L"
    elif high is not None and value > high:
        expected = "H"
    else:
        expected = "N"
    if flag != expected:
        shown = f"{_number(raw)} against range {_number(raw_low)}..{_number(raw_high)}"
        out.append(
            _issue(
                "abnormal_flag_agreement",
                f"value {shown} means {expected}",
                "abnormal_flag",
                flag,
            )
        )


def _finite(value: object) -> float | None:
    return value if isinstance(value, float) and math.isfinite(value) else None


def _exam() -> Rules:
    time_order = _not_before(
        "exam_time_order", "requested_time", "reported_time", "a report follows its request"
    )

    def run(values: Values, out: Out) -> None:
        modality = _text(values.get("modality"))
        if modality is not None and modality not in DICOM_MODALITIES:
            out.append(
                _issue(
                    "exam_modality",
                    "modality is not a DICOM modality term (CT, MR, US …)",
                    "modality",
                    modality,
                )
            )
        uid = _text(values.get("study_uid"))
        if uid is not None and (len(uid) > UID_MAX or not _UID.fullmatch(uid)):
            out.append(
                _issue(
                    "study_uid",
                    f"a DICOM UID is ≤ {UID_MAX} dot-separated numbers",
                    "study_uid",
                    uid,
                )
            )
        accession = _text(values.get("accession_no"))
        if accession is not None and len(accession) > ACCESSION_MAX:
            out.append(
                _issue(
                    "accession_no",
                    f"AccessionNumber has {len(accession)} characters",
                    "accession_no",
                    accession,
                )
            )
        time_order(values, out)

    return run


_ENTITY_RULES: dict[str, Callable[[], Rules]] = {
    "patient": _patient,
    "encounter": _encounter,
    "diagnosis": _diagnosis,
    "order": _order,
    "charge": _charge,
    "lab_report": _lab_report,
    "lab_result": _lab_result,
    "exam": _exam,
}


def _compile(entity: str) -> Checker:
    """The checks of ``entity`` as one function: its required fields and their issues, and its
    rules with their catalogue indexes, resolved here instead of on every record."""
    if entity not in ENTITY_MODELS:
        raise ValueError(f"unknown entity {entity!r}; expected one of {sorted(ENTITY_MODELS)}")
    # clear fields (name, ID number) are required too: checked here, before they are dropped.
    # A missing field's issue quotes no value, so one shared (frozen) Issue per field will do.
    required = tuple(
        (name, _issue("required", f"required field {name} is empty", name))
        for name in (
            *required_fields(ENTITY_MODELS[entity]),
            *REQUIRED_CLEAR_FIELDS.get(entity, ()),
        )
    )
    rules = _ENTITY_RULES[entity]()

    def run(values: Values) -> list[Issue]:
        out: list[Issue] = []
        get = values.get
        for name, missing in required:
            value = get(name)
            if value.__class__ is str:
                if not value.strip():
                    out.append(missing)
            elif value is None or (value.__class__ not in _NEVER_BLANK and not str(value).strip()):
                out.append(missing)
        rules(values, out)
        return out

    return run


_CHECKERS: dict[str, Checker] = {}


def checker(entity: str) -> Checker:
    """The compiled checks of ``entity`` (built on first use, then shared): a caller that knows
    the entity can hold this instead of calling :func:`check` per record."""
    found = _CHECKERS.get(entity)
    if found is None:
        found = _CHECKERS[entity] = _compile(entity)
    return found


def check(entity: str, values: Mapping[str, object]) -> list[Issue]:
    """Every rule violation of one mapped record, completeness first."""
    found = _CHECKERS.get(entity)
    return (found or checker(entity))(values)
