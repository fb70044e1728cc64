"""The compiled checks (one function per entity, catalogues and required fields bound once) find
exactly what the per-record rule dispatch before them found: the same issues in the same order,
with the same rule ids, messages, fields and masked observations, on the simulator's mapped
records, on every crafted bad value and on values mutated field by field."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from streamhub.standardize.checks import check, checker
from streamhub.standardize.issues import Issue
from streamhub.standardize.model import ENTITY_MODELS

from . import checks_oracle as oracle
from .mapped_corpus import mapped_records
from .test_checks import BAD, SETTLEMENT, clean

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _outcome(run: object, entity: str, values: dict[str, object]) -> list[Issue] | str:
    """The issues, or the exception's type and message when the checks raise."""
    try:
        return run(entity, values)  # type: ignore[operator, no-any-return]
    except Exception as exc:  # both must raise alike
        return f"{type(exc).__name__}: {exc}"


def _assert_same(entity: str, values: dict[str, object]) -> list[Issue] | str:
    got = _outcome(check, entity, values)
    assert got == _outcome(oracle.check, entity, values), (entity, values)
    return got


def test_the_simulated_mix_gives_the_same_issues() -> None:
    records = mapped_records()
    assert {r.entity for r in records} == set(ENTITY_MODELS)
    found = [_assert_same(r.entity, r.values) for r in records]
    # the planted bad records are in the mix: the comparison covers issues, not only silence
    rules = {i.rule for issues in found if isinstance(issues, list) for i in issues}
    assert {"id_checksum", "icd_in_catalogue", "required"} <= rules


@pytest.mark.parametrize("entity", sorted(ENTITY_MODELS))
def test_clean_values_give_the_same_nothing(entity: str) -> None:
    assert _assert_same(entity, clean(entity)) == []


@pytest.mark.parametrize(("rule", "entity", "change"), BAD, ids=[f"{r}-{e}" for r, e, _ in BAD])
def test_each_crafted_bad_value_gives_the_same_issue(
    rule: str, entity: str, change: dict[str, object]
) -> None:
    issues = _assert_same(entity, {**clean(entity), **change})
    assert isinstance(issues, list) and [i.rule for i in issues] == [rule]


def test_planted_kinds_of_bad_record_give_the_same_issues() -> None:
    patient = clean("patient")
    number = str(patient["id_number"])
    cases: list[tuple[str, dict[str, object]]] = [
        # citizen ID checksum failure, in each way it can fail
        ("patient", {**patient, "id_number": number[:17] + ("0" if number[17] != "0" else "1")}),
        ("patient", {**patient, "id_number": number[:-1]}),
        ("patient", {**patient, "id_number": number[:6] + "19491331" + number[14:]}),
        ("patient", {**patient, "id_number": "１" + number[1:]}),
        ("patient", {**patient, "id_number": number.lower()}),
        # sex and birth date against the number, together
        ("patient", {**patient, "sex_code": "9"}),
        (
            "patient",
            {
                **patient,
                "sex_code": {"1": "2", "2": "1"}[str(patient["sex_code"])],
                "birth_date": datetime(1900, 1, 1, tzinfo=UTC),
            },
        ),
        # unknown and malformed ICD codes
        ("diagnosis", {**clean("diagnosis"), "icd_code": "Z99.999", "icd_name": "?"}),
        ("diagnosis", {**clean("diagnosis"), "icd_code": " J18.900 "}),
        ("diagnosis", {**clean("diagnosis"), "icd_code": "J18.9000"}),
        # amount != quantity x price; settlements that do not balance
        ("charge", {**clean("charge"), "quantity": 3, "unit_price": 2.5, "amount": "7.5"}),
        ("charge", {**clean("charge"), "quantity": 3, "unit_price": 2.5, "amount": 7.6}),
        ("charge", {**clean("charge"), "amount": Decimal("NaN")}),
        ("charge", {**SETTLEMENT, "total": Decimal("100.02")}),
        # time-order violations, with naive and aware times mixed in
        ("encounter", {**clean("encounter"), "discharge_time": T0 - timedelta(days=1)}),
        ("encounter", {**clean("encounter"), "visit_time": T0.replace(tzinfo=None)}),
        ("lab_report", {**clean("lab_report"), "sampled_time": None, "reported_time": T0}),
        ("exam", {**clean("exam"), "reported_time": T0 - timedelta(seconds=1)}),
    ]
    for entity, values in cases:
        _assert_same(entity, values)


# every kind of value a mapped field can hold, and some it should not
ODD_VALUES: list[object] = [
    None,
    "",
    "  ",
    " padded ",
    "x" * 120,
    "03.01",
    "N",
    "H",
    0,
    -1,
    7,
    True,
    False,
    0.5,
    -0.0,
    1e-7,
    float("inf"),
    float("nan"),
    Decimal("0"),
    Decimal("2.50"),
    Decimal("-Infinity"),
    Decimal("sNaN"),
    T0,
    T0 - timedelta(days=400),
    T0.replace(tzinfo=None),
    date(1990, 1, 1),
    b"\xff\xfe",
]


@pytest.mark.parametrize("entity", sorted(ENTITY_MODELS))
def test_every_field_mutated_gives_the_same_issues(entity: str) -> None:
    base = clean(entity) if entity != "charge" else {**clean("charge"), **SETTLEMENT}
    fields = sorted({*base, *oracle.required_fields(ENTITY_MODELS[entity])})
    for name in fields:
        for value in ODD_VALUES:
            _assert_same(entity, {**base, name: value})
        _assert_same(entity, {k: v for k, v in base.items() if k != name})
    if entity == "charge":  # the fee branch too
        for name in ("quantity", "unit_price", "amount"):
            for value in ODD_VALUES:
                _assert_same(entity, {**clean("charge"), name: value})


def test_random_field_mixes_give_the_same_issues() -> None:
    rng = random.Random(17)
    for _ in range(3000):
        entity = rng.choice(sorted(ENTITY_MODELS))
        values = dict(clean(entity))
        for name in rng.sample(sorted(values), k=rng.randint(1, 3)):
            values[name] = rng.choice(ODD_VALUES)
        _assert_same(entity, values)


def test_abnormal_flags_of_floats_agree_with_their_decimal_reading() -> None:
    """All-float results skip the Decimal conversion: the flag must be what the Decimals of the
    floats' shortest reprs give, at the edges of the range too."""
    rng = random.Random(5)
    edges = [0.1 + 0.2, 0.3, 1.0, 1.0 + 2**-52, 1.0 - 2**-53, 5e-324, -0.0, 0.0, 1e16, 1e16 + 2]
    numbers: list[object] = [*edges, math.inf, -math.inf, math.nan, None, Decimal("0.3"), 1]
    for _ in range(4000):
        values = {
            **clean("lab_result"),
            "value_num": rng.choice([*numbers, rng.uniform(-5, 5)]),
            "ref_low": rng.choice([*numbers, rng.uniform(-5, 0)]),
            "ref_high": rng.choice([*numbers, rng.uniform(0, 5)]),
            "abnormal_flag": rng.choice(["L", "N", "H"]),
        }
        _assert_same("lab_result", values)


def test_checker_is_the_compiled_function_check_calls() -> None:
    assert checker("patient") is checker("patient")
    values = {**clean("patient"), "name": None}
    assert checker("patient")(values) == check("patient", values)
    with pytest.raises(ValueError, match="unknown entity"):
        checker("visit")


def test_a_missing_field_issue_is_reused_but_equal_and_unmasked() -> None:
    first = check("patient", {**clean("patient"), "name": None})
    second = check("patient", {**clean("patient"), "name": "  "})
    assert first == second == [oracle._issue("required", "required field name is empty", "name")]
    assert first[0].observed is None
