"""Named derivations a mapping profile can apply to a value: ``derive: department_name``.

Each takes the value after the field's crosswalk (so catalogue lookups see standard codes)
and returns the derived value, ``None`` when there is nothing to derive. They stay
vendor-neutral so that a new vendor's profile reuses them instead of needing Python.

A derivation signals a problem with a :class:`~streamhub.standardize.errors.DerivationError`
subclass: the mapper turns
:class:`UnknownCodeError` into a ``code_mapped`` issue and :class:`BadValueError` into a
``value_format`` issue on that field, and the record still flows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from streamhub.codes import catalogue
from streamhub.standardize.errors import BadValueError, UnknownCodeError

Derivation = Callable[[object], object]
DERIVATIONS: dict[str, Derivation] = {}

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_NUMERIC = re.compile(_NUMBER)
# "7 ~ 40", "3.5-5.5", "3.5—5.5", "0.5 to 1": two bounds; the separator is not a minus sign
_BOUNDS = re.compile(rf"\s*({_NUMBER})\s*(?:~|～|-|–|—|至|to)\s*({_NUMBER})\s*")
# "<5", "≤ 5", "<=5": an upper bound only; ">10", "≥10": a lower bound only
_UPPER = re.compile(rf"\s*(?:<=?|≤|＜)\s*({_NUMBER})\s*")
_LOWER = re.compile(rf"\s*(?:>=?|≥|＞)\s*({_NUMBER})\s*")
_DEPARTMENT = re.compile(r"(\d{2})\.?(\d{2})?")
DRUG_CATEGORIES = frozenset({"western", "patent_chinese"})  # counted in 药占比; TCM pieces not


def derivation(name: str) -> Callable[[Derivation], Derivation]:
    """Register ``func`` under ``name`` for profiles to reference."""

    def register(func: Derivation) -> Derivation:
        if name in DERIVATIONS:
            raise ValueError(f"derivation {name!r} is registered twice")
        DERIVATIONS[name] = func
        return func

    return register


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@cache
def _department_names() -> dict[str, str]:
    return {d.code: d.name for d in catalogue.departments()}


@cache
def _drug_categories() -> dict[str, str]:
    return {d.code: d.category.value for d in catalogue.drugs()}


@cache
def _region_names() -> dict[str, str]:
    return {r.code: r.name for r in catalogue.regions()}


def _lookup(table: dict[str, str], value: object, what: str) -> str | None:
    code = _text(value)
    if code is None:
        return None
    try:
        return table[code]
    except KeyError:
        raise UnknownCodeError(f"{what} {code!r} is not in the catalogue") from None


@derivation("department_code")
def department_code(value: object) -> str | None:
    """A 诊疗科目 code in its dotted form: ``0301`` and ``03.01`` both give ``03.01``."""
    code = _text(value)
    if code is None:
        return None
    match = _DEPARTMENT.fullmatch(code)
    if match is None:
        raise BadValueError(f"department code {code!r} is not like 03 or 03.01")
    major, minor = match.groups()
    return f"{major}.{minor}" if minor else major


@derivation("department_name")
def department_name(value: object) -> str | None:
    """The catalogue name of a standard 诊疗科目 code (dotted or not)."""
    code = department_code(value)
    return None if code is None else _lookup(_department_names(), code, "department")


@derivation("drug_category")
def drug_category(value: object) -> str | None:
    """western, patent_chinese or tcm_pieces, from the drug catalogue by drug code."""
    return _lookup(_drug_categories(), value, "drug code")


@derivation("is_drug")
def is_drug(value: object) -> bool | None:
    """Whether a standard charge category counts as drug revenue (西药 and 中成药)."""
    category = _text(value)
    return None if category is None else category in DRUG_CATEGORIES


@derivation("number")
def number(value: object) -> float | None:
    """The number in a result text, ``None`` for a text result such as 阴性 (not an error)."""
    text = _text(value)
    if text is None or not _NUMERIC.fullmatch(text):
        return None
    return float(text)


def _bounds(value: object) -> tuple[float | None, float | None]:
    """Low and high of a free-text reference range; (None, None) when it states no numbers."""
    text = _text(value)
    if text is None:
        return None, None
    if match := _BOUNDS.fullmatch(text):
        return float(match.group(1)), float(match.group(2))
    if match := _UPPER.fullmatch(text):
        return None, float(match.group(1))
    if match := _LOWER.fullmatch(text):
        return float(match.group(1)), None
    return None, None  # e.g. 阴性: the text itself is kept in ref_text


@derivation("range_low")
def range_low(value: object) -> float | None:
    return _bounds(value)[0]


@derivation("range_high")
def range_high(value: object) -> float | None:
    return _bounds(value)[1]


@derivation("region_name")
def region_name(value: object) -> str | None:
    """The county name of a GB/T 2260 county code."""
    return _lookup(_region_names(), value, "region code")


@derivation("upper")
def upper(value: object) -> str | None:
    """Upper-cased text, for codes some vendors store in lower case (modality ``ct``)."""
    text = _text(value)
    return None if text is None else text.upper()
