"""The compiled plan maps every row exactly as the profile interpreter did (issue 17).

The oracle is the mapper as it was before the plan (tests/unit/standardize/plan_oracle.py, a
frozen copy kept only for these tests). Both map the simulator's rows of the PostgreSQL
vendor, the MariaDB vendor and the third vendor (with planted bad records), and, for every
table of every profile, a valid row with each column in turn replaced by bad values (an
unknown code, an impossible date, a non-number, blank text, a missing key …): same values
(type and digits), business time, cancelled flag, issues (rule, text, field, observed,
masking) and the same MappingError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from streamhub.capture.envelope import avro_name
from streamhub.standardize import mapper, plan, plan_fields, plan_values
from streamhub.standardize.mapper import map_further, map_row
from streamhub.standardize.plan import plan_for
from streamhub.standardize.profile import FieldSpec, Profile, TableMapping, load_profile
from tests.unit.standardize import plan_oracle
from tests.unit.standardize.plan_rows import PROFILES, THIRD, VENDORS, simulated_rows

PROFILE_FILES = [
    *sorted(PROFILES.glob("*.yaml")),
    THIRD / "profile.yaml",
    THIRD / "wide_mariadb.yaml",
]
LOCAL = datetime(2026, 3, 2, 8, 30, 15)
MISSING = object()  # the column is absent from the row
BAD_VALUES: list[object] = [
    MISSING, None, "", "   ", "ZZ9", "未知代码", "abc", "2026-13-45", "20261345250000",
    "20260230120000", "20260302083060", "2026030208301", "20260302", "2026-03-02",
    "2026-03-02T08:30:15+08:00", "2026-03-02 08:30:15", "１２", "1e400", "NaN", "-Infinity",
    "12.345678", "0012", " 7 ", "-3", "+5", "1_000", "9" * 40, True, False, 0, -1, 3.7,
    float("nan"), 10**30, Decimal("2.5"), date(2026, 3, 2), LOCAL,
    LOCAL.replace(tzinfo=UTC), LOCAL.replace(tzinfo=timezone(timedelta(hours=-5))),
    "0301", "03.01", "3", "K0301", "阴性", "<5", "≥ 10", "3.5-5.5", "高", "", "Y", "t", "ct",
    "x" * 300, "  padded  ", "1", "2", "01", "99", datetime(1988, 4, 10, 2, 30),
    datetime(1988, 9, 11, 1, 30, fold=1),
]  # fmt: skip


def _load(path: Path) -> Profile:
    return load_profile(path)


@pytest.fixture(scope="module")
def profiles() -> dict[Path, Profile]:
    return {path: _load(path) for path in PROFILE_FILES}


def _shape(mapped: Any) -> object:
    """A mapped row (of either mapper) as comparable data: values with their type and repr,
    so Decimal('2.00') differs from Decimal('2.000') and UTC from +08:00."""
    if mapped is None:
        return None
    return (
        mapped.entity,
        [(name, type(v).__name__, repr(v)) for name, v in mapped.values.items()],
        repr(mapped.business_time),
        mapped.cancelled,
        list(mapped.issues),
    )


def _outcome(call: Callable[..., Any], *args: object, further: bool = False) -> object:
    try:
        result = call(*args)
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))
    if further:
        return [(m.entity, _shape(r)) for m, r in result]
    return _shape(result)


def assert_same(profile: Profile, table: str, row: dict[str, object]) -> None:
    old = _outcome(plan_oracle.map_row, profile, table, row)
    new = _outcome(map_row, profile, table, row)
    assert new == old, (table, row)
    old_further = _outcome(plan_oracle.map_further, profile, table, row, further=True)
    new_further = _outcome(map_further, profile, table, row, further=True)
    assert new_further == old_further, (table, row)


# --- the simulator's record mix ------------------------------------------------------------


@pytest.mark.parametrize("vendor", list(VENDORS))
def test_simulated_rows_map_as_the_interpreter_did(vendor: str) -> None:
    profile = load_profile(VENDORS[vendor][1])
    tables: set[str] = set()
    for table, row in simulated_rows(vendor, 8000, bad_fraction=0.2):
        assert_same(profile, table, row)
        tables.add(table)
    assert tables == set(profile.tables)  # every table of the profile was in the mix


# --- every table of every profile, each column with bad values -----------------------------


def _sample(spec: FieldSpec, profile: Profile, entity: str, target: str) -> dict[str, object]:
    """A valid value for each column the spec reads."""
    if spec.parts is not None:
        return {avro_name(c): f"P{n}" for n, c in enumerate(spec.parts)}
    if spec.source is None:
        return {}
    if spec.crosswalk is not None:
        value: object = next(iter(profile.crosswalks[spec.crosswalk]))
    elif spec.format is not None:
        value = LOCAL.strftime(spec.format)
    else:
        kind = plan_values.target_type(entity, target) if target != "business_time" else datetime
        value = {datetime: LOCAL, date: LOCAL.date(), int: 3, bool: True}.get(kind, "12.5")
        if spec.derive in ("department_code", "department_name"):
            value = "0301"
        elif spec.derive == "region_name":
            value = "350206"
        elif spec.derive == "drug_category":
            value = "YP0001"
    return {avro_name(spec.source): value}


def _valid_row(profile: Profile, mapping: TableMapping) -> dict[str, object]:
    row: dict[str, object] = {}
    for further in [*mapping.also, mapping]:
        specs = list(further.fields.items())
        if isinstance(further.business_time, FieldSpec):
            specs.append(("business_time", further.business_time))
        # a column read by several fields takes the value the strictest reading accepts
        specs.sort(key=lambda s: (s[1].crosswalk is None, s[1].format is None, s[1].derive is None))
        for target, spec in specs:
            for column, value in _sample(spec, profile, further.entity, target).items():
                row.setdefault(column, value)
        rule = further.cancelled
        if rule is not None and rule.source is not None:
            row[avro_name(rule.source)] = sorted(rule.values)[0]
    return row


def _cases() -> Iterator[tuple[Path, str]]:
    for path in PROFILE_FILES:
        for table in _load(path).tables:
            yield path, table


@pytest.mark.parametrize(("path", "table"), list(_cases()), ids=lambda x: getattr(x, "name", x))
def test_bad_values_in_every_column_map_as_the_interpreter_did(
    profiles: dict[Path, Profile], path: Path, table: str
) -> None:
    profile = profiles[path]
    row = _valid_row(profile, profile.tables[table])
    old = plan_oracle.map_row(profile, table, row)
    assert old.issues == [], old.issues  # the base row is valid: each bad value stands out
    _each_column_with_bad_values(profile, table, row)


def _each_column_with_bad_values(
    profile: Profile, table: str, row: dict[str, object], extra: tuple[object, ...] = ()
) -> None:
    assert_same(profile, table, row)
    assert_same(profile, f"public.{table}", row)  # the envelope's name is quoted as given
    for column in row:
        for bad in [*BAD_VALUES, *extra]:
            changed = {k: v for k, v in row.items() if k != column}
            if bad is not MISSING:
                changed[column] = bad
            assert_same(profile, table, changed)


# A profile using what the vendor profiles do not: a time zone with summer time, a const that
# never converts, consts of other types, crosswalks into a bool, a decimal and a closed set,
# an unmapped code passed through, a crosswalk feeding a derivation, a composite key joined by
# '-', a business time in a format strptime alone reads, a cancel rule on a raw column with
# mixed values, personal identifiers (one read from the key column), ISO dates and times.
TRICKY: dict[str, Any] = {
    "name": "tricky", "version": 1, "vendor": "test", "timezone": "America/New_York",
    "crosswalks": {
        "kind": {"1": "fee", "2": "settlement"},
        "unit": {"mg": "MG"},
        "dept": {"K03": "0301", "K99": "9999", "KX": "x"},
        "flag": {"Y": "true", "N": "false", "X": "maybe"},
        "num": {"a": "1.5", "b": "x", "c": " "},
    },
    "tables": {
        "T1": {
            "entity": "charge",
            "business_time": {"from": "WHEN", "format": "%d.%m.%Y %H:%M"},
            "cancelled": {"from": "VOID", "in": [1, True, "Y"]},
            "fields": {
                "charge_id": ["A", "B"],
                "charge_kind": {"from": "KIND", "crosswalk": "kind"},
                "item_code": {"from": "CODE", "crosswalk": "unit", "pass_unmapped": True},
                "category": {"const": "abc"},
                "is_drug": {"from": "FLAG", "crosswalk": "flag"},
                "quantity": {"const": "abc"},
                "unit_price": {"from": "PRICE", "crosswalk": "num"},
                "amount": {"const": 12},
                "total": "PRICE2",
                "self_paid": {"const": 1.005},
                "charged_time": "AT",
            },
        },
        "T2": {
            "entity": "encounter",
            "key": "visit_no",
            "business_time": "registered_time",
            "cancelled": {"field": "status", "equals": "withdrawn"},
            "fields": {
                "encounter_id": "ID",
                "visit_no": {"from": ["V1", "V2"], "join": "-"},
                "encounter_type": "ET",
                "admission_count": "N",
                "department_code": {
                    "from": "DEPT", "crosswalk": "dept", "derive": "department_code"
                },
                "department_name": {
                    "from": "DEPT", "crosswalk": "dept", "derive": "department_name"
                },
                "doctor": "DOC",
                "registered_time": {"from": "RT", "format": "%Y%m%d%H%M%S"},
                "discharge_time": {"from": "DT", "format": "%Y%m%d"},
                "status": "ST",
                "fee": "FEE",
            },
        },
        "T3": {
            "entity": "patient",
            "fields": {
                "patient_id": "PID",
                "id_number": "PID",
                "name": "NM",
                "birth_date": "BD",
                "sex_code": {"const": True},
                "region_name": {"from": "RC", "derive": "region_name"},
            },
        },
    },
}  # fmt: skip
TRICKY_ROWS: dict[str, dict[str, object]] = {
    "T1": {
        "A": "7", "B": 8, "KIND": "1", "CODE": "mg", "FLAG": "Y", "PRICE": "a", "PRICE2": "3.333",
        "AT": "2026-03-08T02:30:00", "WHEN": "08.03.2026 01:59", "VOID": 0,
    },
    "T2": {
        "ID": "E1", "V1": "M1", "V2": 2, "ET": "outpatient", "N": "2", "DEPT": "K03",
        "DOC": "王医生", "RT": "20261101013000", "DT": "20261102", "ST": "active", "FEE": 5,
    },
    "T3": {"PID": "350102199001011234", "NM": "张三", "BD": "1990-01-01", "RC": "350206"},
}  # fmt: skip
# summer time: a wall-clock hour that does not exist, one that happens twice (both folds)
SUMMER = (
    datetime(2026, 3, 8, 2, 30), datetime(2026, 11, 1, 1, 30),
    datetime(2026, 11, 1, 1, 30, fold=1), "2026-11-01T01:30:00", "20261101013000",
    "01.11.2026 01:30", "08.03.2026 02:30", "8.3.2026 2:30", "K99", "KX", "X", "b", "c", "3",
    "refund", "withdrawn", "Y", 1, True, datetime.min, datetime.max, "00010101000000",
)  # fmt: skip


@pytest.mark.parametrize("table", list(TRICKY_ROWS))
def test_specs_the_vendor_profiles_do_not_use_map_as_the_interpreter_did(table: str) -> None:
    profile = Profile.model_validate(TRICKY)
    _each_column_with_bad_values(profile, table, TRICKY_ROWS[table], SUMMER)


def test_personal_identifiers_stay_masked(profiles: dict[Path, Profile]) -> None:
    profile = profiles[PROFILES / "pinyin_gbk.yaml"]
    mapped = map_row(profile, "GY_BRXX", {"BRID": "1", "CSRQ": "1980-13-45", "SFZH": True})
    [issue] = mapped.issues
    assert issue.observed is None
    assert "1980" not in issue.message
    assert issue.message == (
        "GY_BRXX.CSRQ -> birth_date: the value is not a date in %Y%m%d "
        "(personal identifier: not shown)"
    )


# --- compiled once, and nothing resolved per record ----------------------------------------


def test_a_plan_is_compiled_once_per_profile_and_mapping(profiles: dict[Path, Profile]) -> None:
    path = PROFILES / "english_pg.yaml"
    profile = profiles[path]
    mapping = profile.table("patients")
    assert plan_for(profile, mapping) is plan_for(profile, mapping)
    map_row(profile, "patients", {"patient_id": 1})
    assert profile.plans[id(mapping)] is plan_for(profile, mapping)
    other = _load(path)
    assert plan_for(other, other.table("patients")) is not plan_for(profile, mapping)
    assert other == profile  # the compiled plans are no part of the profile's value


def _forbidden(*_args: object, **_kwargs: object) -> object:
    raise AssertionError("resolved per record: the plan should have bound it")


def test_rows_are_mapped_without_type_introspection_or_name_lookups(
    profiles: dict[Path, Profile], monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [
        (PROFILES / "pinyin_gbk.yaml", table, row)
        for table, row in simulated_rows("pinyin_gbk", 300, bad_fraction=0.2)
    ] + [
        (PROFILES / "english_pg.yaml", table, row)
        for table, row in simulated_rows("english_pg", 300, bad_fraction=0.2)
    ]
    expected = [_outcome(map_row, profiles[p], t, r) for p, t, r in cases]  # compiles
    for module in (mapper, plan, plan_fields, plan_values):
        for name in ("target_type", "literal_values", "field_meta", "avro_name", "_scale"):
            monkeypatch.setattr(module, name, _forbidden, raising=False)
    assert [_outcome(map_row, profiles[p], t, r) for p, t, r in cases] == expected
