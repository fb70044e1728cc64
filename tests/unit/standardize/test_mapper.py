"""Rows of each vendor dialect map to the canonical values, problems become issues."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from streamhub.capture.envelope import avro_name
from streamhub.simulate import dialect as dialects
from streamhub.simulate.dialect import RowRenderer
from streamhub.standardize import derive
from streamhub.standardize.errors import BadValueError, MappingError, UnknownCodeError
from streamhub.standardize.mapper import map_row
from streamhub.standardize.profile import Profile, load_profile

ROOT = Path(__file__).resolve().parents[3]
PROFILES = ROOT / "connectors" / "profiles"
THIRD = ROOT / "tests" / "data" / "third_vendor"
LOCAL = datetime(2026, 3, 2, 8, 30, 15)  # Asia/Shanghai wall clock, as the sources store it
UTC_TIME = datetime(2026, 3, 2, 0, 30, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
def english() -> Profile:
    return load_profile(PROFILES / "english_pg.yaml")


@pytest.fixture(scope="module")
def pinyin() -> Profile:
    return load_profile(PROFILES / "pinyin_gbk.yaml")


# --- hand-written rows ----------------------------------------------------------------


def test_english_registration(english: Profile) -> None:
    row = {
        "reg_id": 41,
        "patient_id": 7,
        "clinic_no": "2026030200041",
        "visit_type": "ER",
        "dept_code": "RESP",
        "dept_name": "Respiratory",
        "doctor": "王医生",
        "registered_at": LOCAL,
        "visited_at": None,
        "status": "ACTIVE",
        "fee": "15",
        "created_at": LOCAL,
        "updated_at": LOCAL,
    }
    mapped = map_row(english, "registrations", row)
    assert mapped.entity == "encounter"
    assert mapped.values == {
        "encounter_id": "41",
        "patient_id": "7",
        "encounter_type": "emergency",
        "visit_no": "2026030200041",
        "department_code": "03.01",
        "department_name": "呼吸内科专业",
        "local_department_code": "RESP",
        "doctor": "王医生",
        "registered_time": UTC_TIME,
        "visit_time": None,
        "status": "active",
        "fee": Decimal("15.00"),
    }
    assert str(mapped.values["fee"]) == "15.00"  # quantized to the field's scale
    assert mapped.business_time == UTC_TIME
    assert mapped.cancelled is False
    assert mapped.issues == []


def test_pinyin_patient_with_compact_dates(pinyin: Profile) -> None:
    row = {
        "BRID": "1001",
        "XM": "张三",
        "XB": "2",
        "CSRQ": "19800102",
        "ZJLX": "01",
        "SFZH": "11010519491231002X",
        "LXDH": "13500000001",
        "JTDZ": "思明区某路1号",
        "XZQH": "350203",
        "CJSJ": "20260302083015",
        "XGSJ": "20260302083015",
    }
    mapped = map_row(pinyin, "GY_BRXX", row)
    assert mapped.values == {
        "patient_id": "1001",
        "name": "张三",
        "sex_code": "2",
        "birth_date": date(1980, 1, 2),
        "id_type": "01",
        "id_number": "11010519491231002X",
        "phone": "13500000001",
        "address": "思明区某路1号",
        "region_code": "350203",
        "region_name": "厦门市思明区",
    }
    assert mapped.business_time == UTC_TIME
    assert mapped.issues == []


def test_pinyin_lab_results_parse_text_values_ranges_and_flags(pinyin: Profile) -> None:
    base = {"JGID": "9", "BGDID": "4", "XMDM": "WBC", "XMMC": "白细胞计数", "DW": "10*9/L"}
    high = map_row(pinyin, "JY_JGMX", base | {"JGZ": "12.5", "CKFW": "3.5 ~ 9.5", "YCBZ": "高"})
    assert high.values["value_num"] == 12.5
    assert (high.values["ref_low"], high.values["ref_high"]) == (3.5, 9.5)
    assert high.values["ref_text"] == "3.5 ~ 9.5"
    assert high.values["unit"] == "10^9/L"  # spelling normalized by the unit crosswalk
    assert high.values["abnormal_flag"] == "H"

    normal = map_row(pinyin, "JY_JGMX", base | {"JGZ": "阴性", "CKFW": "阴性", "YCBZ": ""})
    assert normal.values["value_num"] is None  # a text result is not an error
    assert normal.values["ref_low"] is None and normal.values["ref_text"] == "阴性"
    assert normal.values["abnormal_flag"] == "N"  # the vendor's empty flag means normal
    assert normal.issues == []

    unjudged = map_row(pinyin, "JY_JGMX", base | {"DW": "fL", "YCBZ": None})
    assert unjudged.values["abnormal_flag"] is None  # NULL: not judged, not "normal"
    assert unjudged.values["unit"] == "fL"  # not in the unit crosswalk: passes unchanged


def test_pinyin_order_money_and_cancellation(pinyin: Profile) -> None:
    row = {
        "MXID": "88",
        "CFH": "CF260302000001",
        "HH": 2,
        "BRID": "1001",
        "JZID": "41",
        "YZLB": "2",
        "YPDM": "YP0001",
        "YPMC": "阿莫西林胶囊",
        "JL": "0.5",
        "JLDW": "盒",
        "SL": "1.005",
        "ZFBZ": "1",
        "KDSJ": "20260302083015",
    }
    mapped = map_row(pinyin, "YZ_CFMX", row)
    assert mapped.values["order_kind"] == "one_off"
    assert mapped.values["line_no"] == 2
    assert mapped.values["drug_category"] == "western"
    assert str(mapped.values["dose"]) == "0.500"
    assert mapped.values["quantity"] == Decimal("1.01")  # half-up at scale 2
    assert mapped.values["ordered_time"] == UTC_TIME
    assert mapped.cancelled is True
    assert map_row(pinyin, "YZ_CFMX", row | {"ZFBZ": "0"}).cancelled is False


def test_english_cancel_rules(english: Profile) -> None:
    order = {"order_line_id": 5, "is_cancelled": True}
    assert map_row(english, "orders", order).cancelled is True
    assert map_row(english, "orders", order | {"is_cancelled": False}).cancelled is False
    registration = {"reg_id": 1, "status": "WITHDRAWN"}
    assert map_row(english, "registrations", registration).cancelled is True
    assert map_row(english, "registrations", {"reg_id": 1}).cancelled is False  # no status
    assert map_row(english, "settlements", {"settlement_id": 3}).cancelled is False


def test_settlements_and_charges_share_the_charge_entity(english: Profile) -> None:
    refund = map_row(
        english,
        "settlements",
        {"settlement_id": 12, "total_amount": "-100.00", "insurance_paid": "-60", "refund_of": 11},
    )
    assert refund.entity == "charge"
    assert refund.values["charge_kind"] == "settlement"
    assert refund.values["total"] == Decimal("-100.00")
    assert refund.values["refund_of"] == "11"
    fee = map_row(english, "charges", {"charge_id": 13, "category": "TCMH"})
    assert fee.values["charge_kind"] == "fee"
    assert (fee.values["category"], fee.values["is_drug"]) == ("tcm_pieces", False)
    drug = map_row(english, "charges", {"charge_id": 14, "category": "CPM"})
    assert drug.values["is_drug"] is True


def test_admission_is_an_inpatient_encounter(pinyin: Profile) -> None:
    row = {
        "ZYID": "77",
        "BRID": "1001",
        "ZYH": "2026000123",
        "ZYCS": 2,
        "KSDM": "1004",
        "BZKSDM": "0304",
        "RYSJ": "20260302083015",
        "CYSJ": None,
        "ZYZT": "1",
    }
    mapped = map_row(pinyin, "ZY_BRRY", row)
    assert mapped.values["encounter_type"] == "inpatient"
    assert mapped.values["department_code"] == "03.04"  # the undotted standard form, normalized
    assert mapped.values["department_name"] == "心血管内科专业"
    assert mapped.values["local_department_code"] == "1004"
    assert mapped.values["status"] == "in_hospital"
    assert mapped.values["discharge_time"] is None
    assert mapped.business_time == UTC_TIME


# --- problems in one field ---------------------------------------------------------------


def test_unknown_local_code_is_an_issue_and_none(english: Profile) -> None:
    mapped = map_row(english, "patients", {"patient_id": 1, "gender": "X", "id_type": "ID"})
    assert mapped.values["sex_code"] is None
    assert mapped.values["id_type"] == "01"
    [issue] = mapped.issues
    assert (issue.rule, issue.dimension, issue.severity) == ("code_mapped", "conformance", "error")
    assert (issue.field, issue.observed) == ("sex_code", "X")
    assert "gender" in issue.message


def test_unparseable_values_are_value_format_issues(pinyin: Profile) -> None:
    row = {"GHID": "3", "GHSJ": "2026-03-02", "GHF": "ten", "JZLX": "1"}
    mapped = map_row(pinyin, "MZ_GHXX", row)
    assert mapped.values["registered_time"] is None and mapped.values["fee"] is None
    assert mapped.business_time is None
    assert {(i.field, i.rule, i.observed) for i in mapped.issues} == {
        ("registered_time", "value_format", "2026-03-02"),
        ("fee", "value_format", "ten"),
    }


def test_issues_never_echo_personal_identifiers(pinyin: Profile) -> None:
    mapped = map_row(pinyin, "GY_BRXX", {"BRID": "1", "CSRQ": "1980-13-45"})
    [issue] = mapped.issues
    assert issue.field == "birth_date" and issue.rule == "value_format"
    assert issue.observed is None and "1980-13-45" not in (issue.observed or "")


def test_catalogue_lookups_that_fail_are_code_mapped(pinyin: Profile) -> None:
    mapped = map_row(pinyin, "YZ_CFMX", {"MXID": "1", "YPDM": "YP9999"})
    assert mapped.values["drug_code"] == "YP9999" and mapped.values["drug_category"] is None
    [issue] = mapped.issues
    assert (issue.field, issue.rule, issue.observed) == ("drug_category", "code_mapped", "YP9999")


def test_a_row_without_its_key_cannot_be_mapped(english: Profile) -> None:
    with pytest.raises(MappingError, match=r"patients: key column 'patient_id'"):
        map_row(english, "patients", {"name": "张三"})


def test_a_key_only_delete_image_maps_without_issues(english: Profile) -> None:
    mapped = map_row(english, "lab_results", {"result_id": 5})
    assert mapped.values["result_id"] == "5"
    assert all(v is None for k, v in mapped.values.items() if k != "result_id")
    assert mapped.issues == [] and mapped.business_time is None


def test_aware_source_times_are_converted_not_relabelled(english: Profile) -> None:
    aware = datetime(2026, 3, 2, 10, 30, 15, tzinfo=timezone(timedelta(hours=10)))
    mapped = map_row(english, "diagnoses", {"diagnosis_id": 1, "diagnosed_at": aware})
    assert mapped.values["diagnosed_time"] == UTC_TIME


def test_columns_added_later_are_not_read(english: Profile) -> None:
    mapped = map_row(english, "public.patients", {"patient_id": 1, "wechat_openid": "wx1"})
    assert "wechat_openid" not in mapped.values and mapped.issues == []


def test_chinese_column_names_are_read_under_their_avro_name(tmp_path: Path) -> None:
    path = tmp_path / "zh.yaml"
    path.write_text(
        "name: zh\nversion: 1\nvendor: t\ntables:\n  门诊管理_挂号登记:\n    entity: encounter\n"
        "    fields:\n      encounter_id: 挂号ID\n"
        "      registered_time: {from: 挂号时间, format: '%Y%m%d%H%M%S'}\n",
        encoding="utf-8",
    )
    profile = load_profile(path)
    row = {avro_name("挂号ID"): 3, avro_name("挂号时间"): "20260302083015"}
    mapped = map_row(profile, "门诊管理_挂号登记", row)
    assert mapped.values == {"encounter_id": "3", "registered_time": UTC_TIME}


# --- every dialect, through the simulator's own renderer ---------------------------------

CANONICAL: dict[str, dict[str, object]] = {
    "patient": {
        "patient_id": 7, "name": "李四", "sex": "female", "birth_date": date(1990, 5, 6),
        "id_type": "passport", "id_number": "E12345678", "region_code": "350206",
        "created_at": LOCAL, "updated_at": LOCAL,
    },
    "registration": {
        "registration_id": 41, "patient_id": 7, "visit_type": "outpatient",
        "department": "03.04", "registered_at": LOCAL, "status": "withdrawn",
        "fee": Decimal("10.00"), "created_at": LOCAL, "updated_at": LOCAL,
    },
    "admission": {
        "admission_id": 42, "patient_id": 7, "admission_count": 3, "department": "05.02",
        "admitted_at": LOCAL, "discharged_at": LOCAL + timedelta(days=2),
        "status": "discharged", "created_at": LOCAL, "updated_at": LOCAL,
    },
    "diagnosis": {
        "diagnosis_id": 5, "encounter_id": 42, "encounter_type": "inpatient",
        "diagnosis_type": "discharge", "seq": 1, "icd_code": "I10.x00", "diagnosed_at": LOCAL,
        "created_at": LOCAL, "updated_at": LOCAL,
    },
    "order": {
        "order_id": 6, "order_kind": "long_term", "drug_code": "YP0001",
        "dose": Decimal("2"), "quantity": Decimal("3"), "cancelled": "yes",
        "ordered_at": LOCAL, "created_at": LOCAL, "updated_at": LOCAL,
    },
    "charge": {
        "charge_id": 8, "category": "patent_chinese", "quantity": Decimal("2"),
        "unit_price": Decimal("12.50"), "amount": Decimal("25.00"), "settlement_id": 9,
        "charged_at": LOCAL, "created_at": LOCAL, "updated_at": LOCAL,
    },
    "settlement": {
        "settlement_id": 9, "total": Decimal("25.00"), "fund_paid": Decimal("15.00"),
        "self_paid": Decimal("10.00"), "settled_at": LOCAL, "created_at": LOCAL,
        "updated_at": LOCAL,
    },
    "lab_report": {
        "report_id": 10, "department": "30", "requested_at": LOCAL, "status": "verified",
        "verifier": "赵医生", "created_at": LOCAL, "updated_at": LOCAL,
    },
    "lab_result": {
        "result_id": 11, "report_id": 10, "item_code": "GLU", "value_text": "7.8",
        "value_num": Decimal("7.8"), "unit": "mmol/L", "ref_low": Decimal("3.9"),
        "ref_high": Decimal("6.1"), "ref_range": "3.9 ~ 6.1", "flag": "high",
        "created_at": LOCAL, "updated_at": LOCAL,
    },
    "exam_report": {
        "exam_id": 12, "modality": "CT", "requested_at": LOCAL, "status": "reported",
        "created_at": LOCAL, "updated_at": LOCAL,
    },
}  # fmt: skip
EXPECTED: dict[str, dict[str, object]] = {
    "patient": {
        "patient_id": "7", "sex_code": "2", "birth_date": date(1990, 5, 6), "id_type": "03",
        "region_name": "厦门市湖里区",
    },
    "registration": {
        "encounter_id": "41", "encounter_type": "outpatient", "department_code": "03.04",
        "registered_time": UTC_TIME, "status": "withdrawn", "fee": Decimal("10.00"),
    },
    "admission": {
        "encounter_id": "42", "encounter_type": "inpatient", "admission_count": 3,
        "department_code": "05.02", "discharge_time": UTC_TIME + timedelta(days=2),
        "status": "discharged",
    },
    "diagnosis": {
        "encounter_id": "42", "encounter_type": "inpatient", "diagnosis_type": "discharge",
        "seq": 1, "icd_code": "I10.x00", "diagnosed_time": UTC_TIME,
    },
    "order": {
        "order_kind": "long_term", "drug_category": "western", "dose": Decimal("2.000"),
        "quantity": Decimal("3.00"),
    },
    "charge": {
        "charge_kind": "fee", "category": "patent_chinese", "is_drug": True,
        "amount": Decimal("25.00"), "settlement_id": "9", "charged_time": UTC_TIME,
    },
    "settlement": {
        "charge_id": "9", "charge_kind": "settlement", "total": Decimal("25.00"),
        "fund_paid": Decimal("15.00"), "charged_time": UTC_TIME,
    },
    "lab_report": {"department_code": "30", "status": "verified", "verifier": "赵医生"},
    "lab_result": {
        "value_text": "7.8", "value_num": 7.8, "ref_low": 3.9, "ref_high": 6.1,
        "abnormal_flag": "H", "unit": "mmol/L",
    },
    "exam_report": {"modality": "CT", "status": "reported", "requested_time": UTC_TIME},
}  # fmt: skip
CANCELLED = {"registration", "order"}


def arriving(value: object, encoding: str) -> object:
    """A rendered column value as the capture agent delivers it."""
    if isinstance(value, bytes):
        return value.decode(encoding)
    if isinstance(value, Decimal):
        return str(value)
    return value


@pytest.mark.parametrize(
    ("dialect_name", "profile_path"),
    [
        ("english_pg", PROFILES / "english_pg.yaml"),
        ("pinyin_gbk", PROFILES / "pinyin_gbk.yaml"),
        (str(THIRD / "dialect.yaml"), THIRD / "profile.yaml"),
    ],
    ids=["english_pg", "pinyin_gbk", "third_vendor"],
)
@pytest.mark.parametrize("entity", list(CANONICAL))
def test_simulated_rows_map_back_to_canonical_values(
    dialect_name: str, profile_path: Path, entity: str
) -> None:
    dialect = dialects.load(dialect_name)
    profile = load_profile(profile_path)
    rendered = RowRenderer(dialect, entity).render(CANONICAL[entity])
    row = {k: arriving(v, dialect.text_encoding) for k, v in rendered.items()}
    mapped = map_row(profile, dialect.tables[entity].name, row)
    assert mapped.issues == []
    got = {k: mapped.values.get(k) for k in EXPECTED[entity]}
    assert got == EXPECTED[entity]
    assert mapped.cancelled is (entity in CANCELLED)
    assert mapped.business_time is not None


# --- derivations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("7 ~ 40", 7.0, 40.0),
        ("3.5-5.5", 3.5, 5.5),
        ("3.5—5.5", 3.5, 5.5),
        ("<5", None, 5.0),
        ("≤ 0.5", None, 0.5),
        (">10", 10.0, None),
        ("阴性", None, None),
        ("", None, None),
    ],
)
def test_reference_range_text(text: str, low: float | None, high: float | None) -> None:
    assert (derive.range_low(text), derive.range_high(text)) == (low, high)


def test_department_code_forms() -> None:
    assert derive.department_code("0301") == "03.01"
    assert derive.department_code("03") == "03"
    with pytest.raises(BadValueError):
        derive.department_code("3-1")
    with pytest.raises(UnknownCodeError):
        derive.department_name("99.99")


def test_number_reads_only_numbers() -> None:
    assert derive.number(" -1.25 ") == -1.25
    assert derive.number("1.2.3") is None
    assert derive.number("阳性(+)") is None
