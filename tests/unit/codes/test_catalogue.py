"""The packaged catalogues load, are internally consistent and survive GBK."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from streamhub.codes import catalogue, icd10, table
from streamhub.codes.errors import CatalogueError

TABLES = {
    "icd10": catalogue.icd10,
    "departments": catalogue.departments,
    "lab_items": catalogue.lab_items,
    "drugs": catalogue.drugs,
    "exam_items": catalogue.exam_items,
    "charge_items": catalogue.charge_items,
    "regions": catalogue.regions,
}


@pytest.mark.parametrize("name", TABLES)
def test_table_loads_with_unique_codes(name: str) -> None:
    rows = TABLES[name]()
    assert len(rows) >= 10
    codes = [row.code for row in rows]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("name", TABLES)
def test_every_text_field_encodes_in_gbk(name: str) -> None:
    for row in TABLES[name]():
        for value in dataclasses.astuple(row):
            if isinstance(value, str):
                assert value.encode("gbk").decode("gbk") == value, (name, row)


def test_icd10_codes_are_well_formed_and_indexed() -> None:
    diagnoses = catalogue.icd10()
    assert all(icd10.is_well_formed(d.code) for d in diagnoses)
    by_code = catalogue.icd10_by_code()
    assert len(by_code) == len(diagnoses)
    assert by_code["J18.900"].name == "肺炎"
    assert by_code["I10.x00"].name == "高血压"


def test_icd10_marks_notifiable_diseases() -> None:
    by_code = catalogue.icd10_by_code()
    assert by_code["J11.100"].disease_class is catalogue.DiseaseClass.INFECTIOUS_C
    assert by_code["B08.401"].disease_class is catalogue.DiseaseClass.INFECTIOUS_C
    assert by_code["B18.100"].disease_class is catalogue.DiseaseClass.INFECTIOUS_B
    assert any(
        d.code.startswith("A15.") and d.disease_class == "infectious_b" for d in by_code.values()
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("J18.900", True),
        ("I10.x00", True),
        ("I50.900x007", True),
        ("J18", True),
        ("J18.9", False),
        ("j18.900", False),
        ("I50.900X007", False),
        ("J18.900\n", False),
        ("J1٨.900", False),  # Arabic-Indic digit
    ],
)
def test_icd10_shape(code: str, expected: bool) -> None:
    assert icd10.is_well_formed(code) is expected


def test_departments_have_parents_and_known_outpatient_only_units() -> None:
    departments = {d.code: d for d in catalogue.departments()}
    for code in departments:
        if "." in code:
            assert code.split(".")[0] in departments, code
    assert departments["03.07"].name == "内分泌专业"
    for code in ("20", "30", "32"):
        assert departments[code].inpatient is False
    assert departments["03"].inpatient is True


def test_lab_ranges_are_ordered() -> None:
    for item in catalogue.lab_items():
        assert item.low < item.high, item
    assert {"血常规", "肝功能", "肾功能"} <= {item.panel for item in catalogue.lab_items()}


def test_prices_are_positive_with_two_decimals() -> None:
    rows = [*catalogue.drugs(), *catalogue.exam_items(), *catalogue.charge_items()]
    for row in rows:
        assert row.price > 0
        assert row.price.as_tuple().exponent == -2, row
    assert {d.category for d in catalogue.drugs()} == set(catalogue.DrugCategory)


def test_regions_are_six_digit_codes() -> None:
    for region in catalogue.regions():
        assert len(region.code) == 6 and region.code.isdigit()
        assert region.name.endswith(region.district)


def test_names_are_single_gb2312_characters_without_repeats() -> None:
    names = catalogue.names()
    assert names.surnames[:5] == ("王", "李", "张", "刘", "陈")
    assert len(names.surnames) >= 50 and len(names.given) >= 100
    for group in (names.surnames, names.given):
        assert len(group) == len(set(group))
        for char in group:
            assert len(char) == 1
            char.encode("gb2312")


def _read(text: str) -> tuple[catalogue.ChargeItem, ...]:
    return table.read_table(
        "test.csv",
        text,
        ("code", "name", "category", "price"),
        catalogue._charge_item,
        lambda item: item.code,
    )


def test_read_table_builds_rows() -> None:
    rows = _read("code,name,category,price\nF1,床位费,bed,40.00\n")
    assert rows == (
        catalogue.ChargeItem("F1", "床位费", catalogue.ChargeCategory.BED, Decimal("40.00")),
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("code,name,price\nF1,床位费,40.00\n", "line 1"),
        ("code,name,category,price\nF1,床位费,bed\n", "line 2"),
        ("code,name,category,price\nF1,床位费,bed,40\n", "line 2"),
        ("code,name,category,price\nF1,床位费,bed,abc\n", "line 2"),
        ("code,name,category,price\nF1,床位费,beds,40.00\n", "line 2"),
        ("code,name,category,price\nF1,床位费,bed,40.00\nF2,,bed,1.00\n", "line 3"),
        ("code,name,category,price\nF1,床位费,bed,40.00\nF1,护理费,nursing,1.00\n", "line 3"),
        ("code,name,category,price\nF1,床位费 ,bed,40.00\n", "line 2"),
        ("code,name,category,price\nF1,\U00020000,bed,40.00\n", "line 2"),  # not in GBK
    ],
)
def test_malformed_table_names_file_and_line(text: str, where: str) -> None:
    with pytest.raises(CatalogueError, match=rf"test\.csv {where}"):
        _read(text)


def test_missing_resource_is_a_catalogue_error() -> None:
    with pytest.raises(CatalogueError, match=r"nope\.csv"):
        table.read_resource("nope.csv")
