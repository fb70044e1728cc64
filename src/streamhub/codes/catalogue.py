"""Typed, cached access to the packaged catalogues in ``data/*.csv``.

The catalogues are a realistic subset for simulation and validation, not the full national
tables: a regional deployment replaces a file, never the code.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

from streamhub.codes import icd10 as icd10_shape
from streamhub.codes.table import Row, read_resource, read_table

T = TypeVar("T")

MODALITIES = frozenset({"CT", "MR", "CR", "DX", "US", "NM", "PT", "XA", "RF", "MG"})
FREQUENCIES = frozenset({"qd", "bid", "tid", "qid", "qn", "st", "prn"})
_PRICE = re.compile(r"[0-9]+\.[0-9]{2}")
_DEPARTMENT = re.compile(r"[0-9]{2}(?:\.[0-9]{2})?")
_REGION = re.compile(r"[0-9]{6}")
_BODY_PART = re.compile(r"[A-Z]+")


class DiseaseClass(StrEnum):
    """Notifiable-disease class (法定传染病 甲/乙/丙) or chronic/common."""

    COMMON = "common"
    CHRONIC = "chronic"
    INFECTIOUS_A = "infectious_a"  # reported within 2 h; no row uses it yet
    INFECTIOUS_B = "infectious_b"
    INFECTIOUS_C = "infectious_c"


class DrugCategory(StrEnum):
    """Drug revenue split; TCM decoction pieces are left out of the drug share (药占比)."""

    WESTERN = "western"
    PATENT_CHINESE = "patent_chinese"
    TCM_PIECES = "tcm_pieces"


class ChargeCategory(StrEnum):
    """Fee category of a non-drug charge item."""

    REGISTRATION = "registration"
    EXAMINATION = "examination"
    LAB = "lab"
    TREATMENT = "treatment"
    BED = "bed"
    NURSING = "nursing"
    MATERIAL = "material"
    SURGERY = "surgery"


@dataclass(frozen=True)
class Diagnosis:
    code: str
    name: str
    disease_class: DiseaseClass


@dataclass(frozen=True)
class Department:
    """A 诊疗科目 (``03.01`` form); ``inpatient`` says whether it runs wards."""

    code: str
    name: str
    inpatient: bool


@dataclass(frozen=True)
class LabItem:
    """A local lab item code with its adult reference range."""

    code: str
    name: str
    unit: str
    low: float
    high: float
    panel: str


@dataclass(frozen=True)
class Drug:
    """A drug with its usual route and frequency; ``price`` in yuan per ``unit``."""

    code: str
    name: str
    spec: str
    unit: str
    price: Decimal
    route: str
    frequency: str
    category: DrugCategory


@dataclass(frozen=True)
class ExamItem:
    """An imaging exam; ``modality`` and ``body_part`` use DICOM terms."""

    code: str
    name: str
    modality: str
    body_part: str
    price: Decimal


@dataclass(frozen=True)
class ChargeItem:
    code: str
    name: str
    category: ChargeCategory
    price: Decimal


@dataclass(frozen=True)
class Region:
    """A county-level division: ``name`` is the full name, ``district`` the dashboard label."""

    code: str
    name: str
    district: str


@dataclass(frozen=True)
class Names:
    """Characters to compose personal names from; surnames by descending frequency."""

    surnames: tuple[str, ...]
    given: tuple[str, ...]


def _price(text: str) -> Decimal:
    if not _PRICE.fullmatch(text) or Decimal(text) <= 0:
        raise ValueError(f"price {text!r} is not a positive amount with 2 decimals")
    return Decimal(text)


def _matching(pattern: re.Pattern[str], what: str, text: str) -> str:
    if not pattern.fullmatch(text):
        raise ValueError(f"{what} {text!r} does not match {pattern.pattern}")
    return text


def _one_of(allowed: frozenset[str], what: str, text: str) -> str:
    if text not in allowed:
        raise ValueError(f"{what} {text!r} is not one of {sorted(allowed)}")
    return text


def _load(
    name: str, columns: tuple[str, ...], build: Callable[[Row], T], key: Callable[[T], Hashable]
) -> tuple[T, ...]:
    return read_table(f"codes/data/{name}", read_resource(name), columns, build, key)


def _code(item: Diagnosis | Department | LabItem | Drug | ExamItem | ChargeItem | Region) -> str:
    return item.code


def _diagnosis(row: Row) -> Diagnosis:
    if not icd10_shape.is_well_formed(row["code"]):
        raise ValueError(f"ICD-10 code {row['code']!r} is not well formed")
    return Diagnosis(row["code"], row["name"], DiseaseClass(row["class"]))


def _department(row: Row) -> Department:
    inpatient = _one_of(frozenset({"0", "1"}), "inpatient", row["inpatient"])
    code = _matching(_DEPARTMENT, "department code", row["code"])
    return Department(code, row["name"], inpatient == "1")


def _lab_item(row: Row) -> LabItem:
    low, high = float(row["low"]), float(row["high"])
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"reference range {low}..{high} is not finite with low < high")
    return LabItem(row["code"], row["name"], row["unit"], low, high, row["panel"])


def _drug(row: Row) -> Drug:
    return Drug(
        code=row["code"],
        name=row["name"],
        spec=row["spec"],
        unit=row["unit"],
        price=_price(row["price"]),
        route=row["route"],
        frequency=_one_of(FREQUENCIES, "frequency", row["frequency"]),
        category=DrugCategory(row["category"]),
    )


def _exam_item(row: Row) -> ExamItem:
    return ExamItem(
        code=row["code"],
        name=row["name"],
        modality=_one_of(MODALITIES, "modality", row["modality"]),
        body_part=_matching(_BODY_PART, "body part", row["body_part"]),
        price=_price(row["price"]),
    )


def _charge_item(row: Row) -> ChargeItem:
    category = ChargeCategory(row["category"])
    return ChargeItem(row["code"], row["name"], category, _price(row["price"]))


def _region(row: Row) -> Region:
    code = _matching(_REGION, "region code", row["code"])
    return Region(code, row["name"], row["district"])


def _name_entry(row: Row) -> tuple[str, str]:
    kind = _one_of(frozenset({"surname", "given"}), "kind", row["kind"])
    longest = 2 if kind == "surname" else 1  # compound surnames such as 欧阳
    if len(row["value"]) > longest:
        raise ValueError(f"{kind} {row['value']!r} is longer than {longest} characters")
    return kind, row["value"]


@functools.cache
def icd10() -> tuple[Diagnosis, ...]:
    return _load("icd10.csv", ("code", "name", "class"), _diagnosis, _code)


@functools.cache
def icd10_by_code() -> Mapping[str, Diagnosis]:
    """Read-only, since the cached mapping is shared by every caller."""
    return MappingProxyType({d.code: d for d in icd10()})


@functools.cache
def departments() -> tuple[Department, ...]:
    return _load("departments.csv", ("code", "name", "inpatient"), _department, _code)


@functools.cache
def lab_items() -> tuple[LabItem, ...]:
    columns = ("code", "name", "unit", "low", "high", "panel")
    return _load("lab_items.csv", columns, _lab_item, _code)


@functools.cache
def drugs() -> tuple[Drug, ...]:
    columns = ("code", "name", "spec", "unit", "price", "route", "frequency", "category")
    return _load("drugs.csv", columns, _drug, _code)


@functools.cache
def exam_items() -> tuple[ExamItem, ...]:
    columns = ("code", "name", "modality", "body_part", "price")
    return _load("exam_items.csv", columns, _exam_item, _code)


@functools.cache
def charge_items() -> tuple[ChargeItem, ...]:
    columns = ("code", "name", "category", "price")
    return _load("charge_items.csv", columns, _charge_item, _code)


@functools.cache
def regions() -> tuple[Region, ...]:
    return _load("regions.csv", ("code", "name", "district"), _region, _code)


@functools.cache
def names() -> Names:
    entries = _load("names.csv", ("kind", "value"), _name_entry, lambda entry: entry)
    return Names(
        surnames=tuple(value for kind, value in entries if kind == "surname"),
        given=tuple(value for kind, value in entries if kind == "given"),
    )
