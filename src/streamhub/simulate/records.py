"""The vendor-neutral vocabulary between the workload and the dialects.

The workload speaks in canonical entities, fields and code values; a dialect
renders them into one vendor's tables, columns and local codes. Anything a
dialect may map is listed here, so a dialect file can be checked on load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Operation = Literal["c", "u", "d"]
OPERATIONS: tuple[Operation, ...] = ("c", "u", "d")
SYSTEMS = ("his", "emr", "lis", "pacs")

# entity -> canonical fields the workload fills (every entity also has created_at/updated_at)
ENTITIES: dict[str, tuple[str, ...]] = {
    "patient": (
        "patient_id",
        "name",
        "sex",
        "birth_date",
        "id_type",
        "id_number",
        "phone",
        "address",
        "region_code",
    ),
    "registration": (
        "registration_id",
        "patient_id",
        "visit_no",
        "visit_type",
        "department",
        "department_name",
        "doctor",
        "registered_at",
        "visited_at",
        "status",
        "fee",
    ),
    "admission": (
        "admission_id",
        "patient_id",
        "admission_no",
        "admission_count",
        "department",
        "department_name",
        "ward",
        "bed",
        "admitted_at",
        "discharged_at",
        "status",
    ),
    "diagnosis": (
        "diagnosis_id",
        "patient_id",
        "encounter_id",
        "encounter_type",
        "diagnosis_type",
        "seq",
        "icd_code",
        "icd_name",
        "local_code",
        "diagnosed_at",
    ),
    "order": (
        "order_id",
        "order_no",
        "line_no",
        "patient_id",
        "encounter_id",
        "order_kind",
        "drug_code",
        "drug_name",
        "dose",
        "dose_unit",
        "route",
        "frequency",
        "quantity",
        "cancelled",
        "ordered_at",
    ),
    "charge": (
        "charge_id",
        "patient_id",
        "encounter_id",
        "item_code",
        "item_name",
        "category",
        "quantity",
        "unit_price",
        "amount",
        "charged_at",
        "settlement_id",
    ),
    "settlement": (
        "settlement_id",
        "patient_id",
        "encounter_id",
        "total",
        "fund_paid",
        "self_paid",
        "refund_of",
        "settled_at",
    ),
    "lab_report": (
        "report_id",
        "patient_id",
        "encounter_id",
        "request_no",
        "panel",
        "department",
        "requested_at",
        "sampled_at",
        "reported_at",
        "status",
        "verifier",
    ),
    "lab_result": (
        "result_id",
        "report_id",
        "item_code",
        "item_name",
        "value_text",
        "value_num",
        "unit",
        "ref_low",
        "ref_high",
        "ref_range",
        "flag",
    ),
    "exam_report": (
        "exam_id",
        "patient_id",
        "encounter_id",
        "accession_no",
        "study_uid",
        "modality",
        "body_part",
        "item_name",
        "findings",
        "impression",
        "requested_at",
        "reported_at",
        "status",
    ),
}
AUDIT_FIELDS = ("created_at", "updated_at")

# code set -> the canonical values a dialect must map to its own codes
CODE_SETS: dict[str, tuple[str, ...]] = {
    "sex": ("male", "female", "unknown"),
    "id_type": ("resident_id", "passport", "other"),
    "visit_type": ("outpatient", "emergency"),
    "registration_status": ("active", "withdrawn"),
    "admission_status": ("in_hospital", "discharged"),
    "encounter_type": ("outpatient", "inpatient"),
    "diagnosis_type": ("outpatient", "admission", "discharge"),
    "order_kind": ("long_term", "one_off"),
    "flag": ("yes", "no"),
    "result_flag": ("high", "low", "normal"),
    "report_status": ("requested", "reported", "verified"),
    "charge_category": (
        "registration",
        "examination",
        "lab",
        "treatment",
        "bed",
        "nursing",
        "material",
        "surgery",
        "western",
        "patent_chinese",
        "tcm_pieces",
    ),
}
# code sets whose canonical values come from a catalogue rather than from CODE_SETS
CATALOGUE_CODE_SETS = ("department",)

Value = object  # str, int, Decimal, date, datetime, bytes or None


@dataclass(slots=True)
class Change:
    """One row change the workload decided on, in canonical terms.

    ``values`` holds every field for an insert and only the changed fields for an
    update; a delete needs the key alone. ``at`` is the simulated business time.
    """

    institution: str
    entity: str
    op: Operation
    key: int
    at: datetime
    values: dict[str, Value] = field(default_factory=dict)
