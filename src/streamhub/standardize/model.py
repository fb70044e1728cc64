"""The regional canonical model: one pydantic model per standard entity.

What lands on ``std.<entity>`` and in ClickHouse. No field holds a personal
identifier, in clear or in part: ID numbers become a keyed pseudonym (``person_key``),
names, phones and addresses do not leave, birth dates only as a ten-year age band
(80+ top-coded), addresses only as their prefecture (docs/decisions/privacy.md judges
each field by GB/T 39725 level and k-anonymity). Every field names its WS/T 363 data element
(where DOMAIN.md confirms one; ``None`` otherwise), its GB/T 39725-2020 category
and its security level (1 public … 5 strictly controlled).

``avro_schemas/std/<entity>.avsc`` is generated from these models
(``streamhub schemas std --write``) and a test keeps the two in agreement.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal["个人属性", "健康状况", "医疗应用", "医疗支付", "卫生资源", "公共卫生"]
Operation = Literal["c", "u", "d", "r"]

PERSONAL: Category = "个人属性"
HEALTH: Category = "健康状况"
CLINICAL: Category = "医疗应用"
PAYMENT: Category = "医疗支付"
RESOURCES: Category = "卫生资源"


def element(
    doc: str,
    *,
    category: Category,
    level: int,
    de: str | None = None,
    scale: int | None = None,
    required: bool = False,
) -> Any:
    """A canonical field: its description, data element, category, level and (for money and
    amounts) the decimal scale. ``required`` marks what the completeness check demands."""
    extra: dict[str, Any] = {"de": de, "category": category, "level": level}
    if scale is not None:
        extra["scale"] = scale
    if required:
        extra["required"] = True
    return Field(None, description=doc, json_schema_extra=extra)


class StdRecord(BaseModel):
    """Fields every standard record carries: where it came from, when, and its version."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    entity: ClassVar[str]

    record_id: str = Field(
        description="Deterministic id: keyed token (identity key) of institution, source "
        "database, table and primary key",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 2},
    )
    institution_id: str = Field(
        description="Unified social credit code (统一社会信用代码) of the institution",
        json_schema_extra={"de": "DE08.10.013.00", "category": RESOURCES, "level": 1},
    )
    source_system: str = Field(
        description="his, emr, lis or pacs",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 1},
    )
    source_database: str = Field(
        description="Source database name",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 2},
    )
    source_table: str = Field(
        description="Source table (schema.table on PostgreSQL)",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 2},
    )
    source_key: str = Field(
        description="Keyed token (identity key) of the source primary key; the clear key stays "
        "in cdc.raw.* (reconcile diff shows it to operators)",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 3},
    )
    operation: Operation = Field(
        description="c insert, u update, d delete, r snapshot read",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 2},
    )
    deleted: bool = Field(
        description="The source row was deleted; the record's last known values are kept",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 2},
    )
    source_position: str = Field(
        description="Source log position (PostgreSQL LSN or MariaDB/MySQL GTID)",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 2},
    )
    source_position_seq: int = Field(
        description="The log position as an increasing number: the record's version",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 2},
    )
    business_time: datetime | None = Field(
        None,
        description="When it happened in the institution (UTC); the entity's main time",
        json_schema_extra={"de": None, "category": CLINICAL, "level": 2},
    )
    commit_time: datetime = Field(
        description="Source commit time (UTC)",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 2},
    )
    received_time: datetime = Field(
        description="When the capture agent read the change (UTC)",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 2},
    )
    standardized_time: datetime = Field(
        description="When the standardizer produced this record (UTC)",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 2},
    )
    cancelled: bool = Field(
        False,
        description="Withdrawn, cancelled or refunded at the source (作废/退号): not counted",
        json_schema_extra={"de": None, "category": CLINICAL, "level": 2},
    )
    quality_issues: list[str] = Field(
        default_factory=list,
        description="Ids of the quality rules this record failed (see ops.quality)",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 2},
    )
    profile: str = Field(
        description="Mapping profile (name@version) that produced the record",
        json_schema_extra={"de": None, "category": RESOURCES, "level": 1},
    )


class Patient(StdRecord):
    entity: ClassVar[str] = "patient"

    patient_id: str | None = element(
        "Keyed token of the patient id within the institution",
        category=PERSONAL,
        level=3,
        required=True,
    )
    person_key: str | None = element(
        "Keyed HMAC pseudonym of ID type + number: the same person in every institution",
        category=PERSONAL,
        level=3,
        de="DE02.01.030.00",
    )
    pseudonym_key_id: str | None = element(
        "Id of the pseudonym key person_key was made with (keys rotate; see "
        "`streamhub pseudonym list`)",
        category=RESOURCES,
        level=1,
    )
    id_type: str | None = element(
        "ID document type, CV02.01.101", category=PERSONAL, level=2, de="DE02.01.031.00"
    )
    sex_code: str | None = element(
        "Sex, GB/T 2261.1 (0 unknown, 1 male, 2 female, 9 not stated)",
        category=PERSONAL,
        level=2,
        de="DE02.01.040.00",
        required=True,
    )
    age_band: str | None = element(
        "Age on the Asia/Shanghai date of the business time in ten-year bands: 0-9, 10-19 … "
        "80+ (the birth date and year do not leave)",
        category=PERSONAL,
        level=2,
    )
    region_code: str | None = element(
        "Prefecture-level division code (GB/T 2260, like 350200) of the address: the county "
        "is generalized away (k-anonymity, docs/decisions/privacy.md)",
        category=PERSONAL,
        level=2,
    )
    region_name: str | None = element(
        "Prefecture of the address (厦门市)", category=PERSONAL, level=2
    )


EncounterType = Literal["outpatient", "emergency", "inpatient"]


class Encounter(StdRecord):
    entity: ClassVar[str] = "encounter"

    encounter_id: str | None = element(
        "Keyed token of the visit id within the institution (registration or admission)",
        category=CLINICAL,
        level=2,
        required=True,
    )
    patient_id: str | None = element(
        "Keyed token of the patient id within the institution",
        category=PERSONAL,
        level=3,
        required=True,
    )
    encounter_type: EncounterType | None = element(
        "outpatient, emergency or inpatient", category=CLINICAL, level=2, required=True
    )
    visit_no: str | None = element(
        "Keyed token of the outpatient/emergency or inpatient number",
        category=CLINICAL,
        level=3,
        de="DE01.00.010.00",
    )
    admission_count: int | None = element(
        "Nth admission of the patient", category=CLINICAL, level=2
    )
    department_code: str | None = element(
        "Department, 诊疗科目 code like 03.01", category=RESOURCES, level=1, required=True
    )
    department_name: str | None = element(
        "Department name from the catalogue", category=RESOURCES, level=1
    )
    local_department_code: str | None = element(
        "The institution's own department code", category=RESOURCES, level=1
    )
    ward: str | None = element("Ward", category=RESOURCES, level=1)
    bed: str | None = element("Bed number", category=RESOURCES, level=2)
    doctor_key: str | None = element("Keyed pseudonym of the doctor", category=RESOURCES, level=2)
    pseudonym_key_id: str | None = element(
        "Id of the pseudonym key doctor_key was made with", category=RESOURCES, level=1
    )
    registered_time: datetime | None = element(
        "Registration or admission time (UTC)", category=CLINICAL, level=2, required=True
    )
    visit_time: datetime | None = element(
        "Visit time (outpatient) (UTC)", category=CLINICAL, level=2
    )
    discharge_time: datetime | None = element(
        "Discharge time (inpatient) (UTC)", category=CLINICAL, level=2
    )
    status: str | None = element(
        "active, withdrawn, in_hospital or discharged", category=CLINICAL, level=2
    )
    fee: Decimal | None = element("Registration fee (CNY)", category=PAYMENT, level=2, scale=2)


class Diagnosis(StdRecord):
    entity: ClassVar[str] = "diagnosis"

    diagnosis_id: str | None = element(
        "Keyed token of the diagnosis id", category=CLINICAL, level=2, required=True
    )
    patient_id: str | None = element(
        "Keyed token of the patient id within the institution",
        category=PERSONAL,
        level=3,
        required=True,
    )
    encounter_id: str | None = element(
        "Keyed token of the visit id", category=CLINICAL, level=2, required=True
    )
    encounter_type: str | None = element("outpatient or inpatient", category=CLINICAL, level=2)
    diagnosis_type: str | None = element(
        "outpatient, admission or discharge", category=HEALTH, level=3
    )
    seq: int | None = element("Order of the diagnosis (1 = principal)", category=HEALTH, level=3)
    icd_code: str | None = element(
        "ICD-10 code (national clinical 2.0)",
        category=HEALTH,
        level=3,
        de="DE05.01.024.00",
        required=True,
    )
    icd_name: str | None = element("Diagnosis name", category=HEALTH, level=3, required=True)
    local_code: str | None = element(
        "The institution's own diagnosis code", category=HEALTH, level=3
    )
    diagnosed_time: datetime | None = element(
        "Diagnosis time (UTC)", category=HEALTH, level=3, required=True
    )


class Order(StdRecord):
    entity: ClassVar[str] = "order"

    order_id: str | None = element(
        "Keyed token of the order line id", category=CLINICAL, level=2, required=True
    )
    order_no: str | None = element(
        "Keyed token of the prescription/order number", category=CLINICAL, level=2
    )
    line_no: int | None = element("Line within the order", category=CLINICAL, level=2)
    patient_id: str | None = element(
        "Keyed token of the patient id within the institution",
        category=PERSONAL,
        level=3,
        required=True,
    )
    encounter_id: str | None = element(
        "Keyed token of the visit id", category=CLINICAL, level=2, required=True
    )
    order_kind: str | None = element("long_term or one_off", category=CLINICAL, level=2)
    drug_code: str | None = element("Drug code", category=CLINICAL, level=2, required=True)
    drug_name: str | None = element("Drug name", category=CLINICAL, level=2)
    drug_category: str | None = element(
        "western, patent_chinese or tcm_pieces", category=CLINICAL, level=2
    )
    dose: Decimal | None = element("Dose per administration", category=CLINICAL, level=2, scale=3)
    dose_unit: str | None = element("Dose unit", category=CLINICAL, level=2)
    route: str | None = element("Route of administration", category=CLINICAL, level=2)
    frequency: str | None = element("Frequency", category=CLINICAL, level=2)
    quantity: Decimal | None = element("Quantity dispensed", category=CLINICAL, level=2, scale=2)
    ordered_time: datetime | None = element(
        "Order time (UTC)", category=CLINICAL, level=2, required=True
    )


ChargeKind = Literal["fee", "settlement"]


class Charge(StdRecord):
    entity: ClassVar[str] = "charge"

    charge_id: str | None = element(
        "Keyed token of the fee line or settlement id", category=PAYMENT, level=2, required=True
    )
    charge_kind: ChargeKind | None = element(
        "fee (a fee line) or settlement", category=PAYMENT, level=2, required=True
    )
    patient_id: str | None = element(
        "Keyed token of the patient id within the institution",
        category=PERSONAL,
        level=3,
        required=True,
    )
    encounter_id: str | None = element("Keyed token of the visit id", category=CLINICAL, level=2)
    item_code: str | None = element("Charge item code (fee lines)", category=PAYMENT, level=2)
    item_name: str | None = element("Charge item name (fee lines)", category=PAYMENT, level=2)
    category: str | None = element(
        "registration, examination, lab, treatment, bed, nursing, material, surgery, western, "
        "patent_chinese or tcm_pieces",
        category=PAYMENT,
        level=2,
    )
    is_drug: bool | None = element(
        "Counts as drug revenue for 药占比 (western and patent Chinese medicine, not TCM pieces)",
        category=PAYMENT,
        level=2,
    )
    quantity: Decimal | None = element("Quantity", category=PAYMENT, level=2, scale=2)
    unit_price: Decimal | None = element("Unit price (CNY)", category=PAYMENT, level=2, scale=2)
    amount: Decimal | None = element("Fee line amount (CNY)", category=PAYMENT, level=2, scale=2)
    settlement_id: str | None = element(
        "Keyed token of the settlement the fee line was settled in", category=PAYMENT, level=2
    )
    total: Decimal | None = element(
        "Settlement total (CNY; negative for a refund)", category=PAYMENT, level=2, scale=2
    )
    fund_paid: Decimal | None = element(
        "Paid by the insurance fund", category=PAYMENT, level=2, scale=2
    )
    self_paid: Decimal | None = element("Paid by the patient", category=PAYMENT, level=2, scale=2)
    refund_of: str | None = element(
        "Keyed token of the settlement this one refunds", category=PAYMENT, level=2
    )
    charged_time: datetime | None = element(
        "Charge or settlement time (UTC)", category=PAYMENT, level=2, required=True
    )


class LabReport(StdRecord):
    entity: ClassVar[str] = "lab_report"

    report_id: str | None = element(
        "Keyed token of the lab report id", category=CLINICAL, level=2, required=True
    )
    patient_id: str | None = element(
        "Keyed token of the patient id within the institution",
        category=PERSONAL,
        level=3,
        required=True,
    )
    encounter_id: str | None = element("Keyed token of the visit id", category=CLINICAL, level=2)
    request_no: str | None = element(
        "Keyed token of the request number", category=CLINICAL, level=2
    )
    panel: str | None = element("Panel name", category=CLINICAL, level=2)
    department_code: str | None = element(
        "Performing department, 诊疗科目 code", category=RESOURCES, level=1
    )
    requested_time: datetime | None = element(
        "Request time (UTC)", category=CLINICAL, level=2, required=True
    )
    sampled_time: datetime | None = element("Sample time (UTC)", category=CLINICAL, level=2)
    reported_time: datetime | None = element("Report time (UTC)", category=CLINICAL, level=2)
    status: str | None = element("requested, reported or verified", category=CLINICAL, level=2)
    verifier_key: str | None = element(
        "Keyed pseudonym of the verifier", category=RESOURCES, level=2
    )
    pseudonym_key_id: str | None = element(
        "Id of the pseudonym key verifier_key was made with", category=RESOURCES, level=1
    )


class LabResult(StdRecord):
    entity: ClassVar[str] = "lab_result"

    result_id: str | None = element(
        "Keyed token of the result item id", category=HEALTH, level=3, required=True
    )
    report_id: str | None = element(
        "Keyed token of the lab report id", category=CLINICAL, level=2, required=True
    )
    item_code: str | None = element(
        "Lab item code", category=HEALTH, level=3, de="DE04.30.019.00", required=True
    )
    item_name: str | None = element("Lab item name", category=HEALTH, level=3)
    value_text: str | None = element("Result as reported", category=HEALTH, level=3)
    value_num: float | None = element(
        "Numeric result, when the text is a number", category=HEALTH, level=3
    )
    unit: str | None = element("Unit, normalized", category=HEALTH, level=3)
    ref_low: float | None = element("Reference range low", category=HEALTH, level=2)
    ref_high: float | None = element("Reference range high", category=HEALTH, level=2)
    ref_text: str | None = element("Reference range as text", category=HEALTH, level=2)
    abnormal_flag: str | None = element("H high, L low, N normal", category=HEALTH, level=3)


class Exam(StdRecord):
    entity: ClassVar[str] = "exam"

    exam_id: str | None = element(
        "Keyed token of the exam report id", category=CLINICAL, level=2, required=True
    )
    patient_id: str | None = element(
        "Keyed token of the patient id within the institution",
        category=PERSONAL,
        level=3,
        required=True,
    )
    encounter_id: str | None = element("Keyed token of the visit id", category=CLINICAL, level=2)
    accession_no: str | None = element(
        "Keyed token of the DICOM AccessionNumber", category=CLINICAL, level=2
    )
    study_uid: str | None = element(
        "Keyed token of the DICOM StudyInstanceUID", category=CLINICAL, level=2
    )
    modality: str | None = element(
        "DICOM modality (CT, MR, US, DX …)", category=CLINICAL, level=2, required=True
    )
    body_part: str | None = element("Body part", category=CLINICAL, level=2)
    item_name: str | None = element("Exam item", category=CLINICAL, level=2)
    findings: str | None = element("Findings (影像所见)", category=HEALTH, level=3)
    impression: str | None = element("Impression (诊断意见)", category=HEALTH, level=3)
    requested_time: datetime | None = element(
        "Request time (UTC)", category=CLINICAL, level=2, required=True
    )
    reported_time: datetime | None = element("Report time (UTC)", category=CLINICAL, level=2)
    status: str | None = element("requested, reported or verified", category=CLINICAL, level=2)


ENTITY_MODELS: dict[str, type[StdRecord]] = {
    model.entity: model
    for model in (Patient, Encounter, Diagnosis, Order, Charge, LabReport, LabResult, Exam)
}


def std_topic(entity: str) -> str:
    return f"std.{entity}"


def field_meta(model: type[StdRecord], name: str) -> dict[str, Any]:
    """The data element, category, level (and scale, required) of one field."""
    extra = model.model_fields[name].json_schema_extra
    assert isinstance(extra, dict)
    return dict(extra)


@cache  # asked for every record by the completeness check
def required_fields(model: type[StdRecord]) -> tuple[str, ...]:
    return tuple(n for n in model.model_fields if field_meta(model, n).get("required"))


# Fields the mapper fills in clear that never leave the standardizer: the pseudonymizer
# turns them into the protected fields above (id_number -> person_key, birth_date ->
# age_band, doctor/verifier -> a staff key) or drops them (name, phone, address; region_code
# carries the prefecture). The completeness check reads them before they are dropped.
CLEAR_FIELDS: dict[str, tuple[str, ...]] = {
    "patient": ("name", "id_number", "phone", "address", "birth_date"),
    "encounter": ("doctor",),
    "lab_report": ("verifier",),
}
# Clear fields the completeness check demands (the ``required`` of model fields, for fields
# that do not leave the standardizer).
REQUIRED_CLEAR_FIELDS: dict[str, tuple[str, ...]] = {"patient": ("id_number", "name")}


# Institution-internal identifiers: field -> the kind of identifier it holds. Each leaves the
# standardizer as a keyed token of (kind, institution, value) under the identity key, so a
# reference and what it references get the same token (encounter.patient_id ==
# patient.patient_id; charge.settlement_id and refund_of == the settlement's charge_id).
TOKEN_FIELDS: dict[str, dict[str, str]] = {
    "patient": {"patient_id": "patient"},
    "encounter": {"encounter_id": "encounter", "patient_id": "patient", "visit_no": "visit_no"},
    "diagnosis": {
        "diagnosis_id": "diagnosis",
        "patient_id": "patient",
        "encounter_id": "encounter",
    },
    "order": {
        "order_id": "order",
        "order_no": "order_no",
        "patient_id": "patient",
        "encounter_id": "encounter",
    },
    "charge": {
        "charge_id": "charge",
        "patient_id": "patient",
        "encounter_id": "encounter",
        "settlement_id": "charge",
        "refund_of": "charge",
    },
    "lab_report": {
        "report_id": "lab_report",
        "patient_id": "patient",
        "encounter_id": "encounter",
        "request_no": "lab_request",
    },
    "lab_result": {"result_id": "lab_result", "report_id": "lab_report"},
    "exam": {
        "exam_id": "exam",
        "patient_id": "patient",
        "encounter_id": "encounter",
        "accession_no": "accession_no",
        "study_uid": "study_uid",
    },
}
# Entities whose records carry person or staff keys, and so the id of the key used.
KEY_ID_ENTITIES = frozenset({"patient", "encounter", "lab_report"})
