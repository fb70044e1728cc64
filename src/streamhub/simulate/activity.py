"""The activity model: what a day in an institution looks like, loaded from YAML."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from streamhub.simulate.errors import DialectError

Kind = Literal["hospital", "clinic"]
Range = tuple[float, float]


class Activity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    day_curve: list[tuple[float, float]]
    weight: dict[Kind, float]
    warm_up_hours: float
    seed_patients: dict[Kind, int]
    seed_inpatients: dict[Kind, int]
    systems: dict[Kind, list[Literal["his", "emr", "lis", "pacs"]]]
    arrivals: dict[Kind, dict[Literal["outpatient", "emergency", "admission", "correction"], float]]
    new_patient_share: float
    withdraw_share: float
    second_diagnosis_share: float
    lab_share: float
    exam_share: float
    order_cancel_share: float
    refund_share: float
    abnormal_result_share: float
    fund_share: dict[Literal["outpatient", "inpatient"], float]
    visit_delay: Range
    cancel_delay: Range
    settle_delay: Range
    sample_delay: Range
    lab_report_delay: Range
    verify_delay: Range
    exam_report_delay: Range
    refund_delay: Range
    length_of_stay_hours: Range
    registration_fee: dict[Literal["outpatient", "emergency"], Decimal]
    doctors_per_institution: int
    roads: list[str]
    exam_texts: dict[Literal["findings", "impressions"], list[str]]

    @field_validator("day_curve")
    @classmethod
    def _covers_the_day(cls, curve: list[tuple[float, float]]) -> list[tuple[float, float]]:
        hours = [h for h, _ in curve]
        if hours != sorted(hours) or hours[0] != 0 or hours[-1] != 24:
            raise ValueError("day_curve hours must rise from 0 to 24")
        if any(v <= 0 for _, v in curve):
            raise ValueError("day_curve intensities must be positive")
        return curve


@cache
def load_activity() -> Activity:
    resource = resources.files("streamhub.simulate") / "activity.yaml"
    try:
        return Activity.model_validate(yaml.safe_load(resource.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise DialectError(f"activity model {resource} is invalid: {exc}") from exc
