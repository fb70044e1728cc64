from datetime import date, datetime
from decimal import Decimal

import pytest
import yaml

from streamhub.simulate import dialect as dialects
from streamhub.simulate.bad_records import UNDECODABLE_TAIL
from streamhub.simulate.dialect import Dialect, RowRenderer
from streamhub.simulate.errors import DialectError
from streamhub.simulate.records import ENTITIES


def test_packaged_dialects_cover_every_entity_on_their_engine():
    names = dialects.available()
    assert {"english_pg", "pinyin_gbk"} <= set(names)
    engines = {dialects.load(n).engine for n in names}
    assert engines == {"postgres", "mariadb"}
    for name in names:
        assert set(dialects.load(name).tables) == set(ENTITIES)


def test_the_two_vendors_differ_the_way_real_ones_do():
    english, pinyin = dialects.load("english_pg"), dialects.load("pinyin_gbk")
    assert english.codes["sex"]["male"] == "M" and pinyin.codes["sex"]["male"] == "1"
    assert (
        pinyin.codes["result_flag"]["high"] == "高" and english.codes["result_flag"]["high"] == "H"
    )
    assert {"BRID", "XM", "XB", "SFZH"} <= set(pinyin.tables["patient"].columns)
    assert pinyin.tables["registration"].column_for("registered_at") == "GHSJ"
    assert english.codes["department"]["03.01"] != pinyin.codes["department"]["03.01"]
    assert pinyin.compact_times and not english.compact_times


def test_rendering_applies_codes_formats_and_encoding():
    pinyin = RowRenderer(dialects.load("pinyin_gbk"), "patient")
    row = pinyin.render(
        {
            "patient_id": 7,
            "name": "张三",
            "sex": "female",
            "birth_date": date(1980, 1, 2),
            "created_at": datetime(2026, 3, 2, 8, 5, 9, 123000),
            "address": "思明区".encode("gbk") + UNDECODABLE_TAIL,
        }
    )
    assert row["BRID"] == b"7"  # numeric key in a VARCHAR column, as GBK bytes
    assert row["XM"] == "张三".encode("gbk")
    assert row["XB"] == b"2"
    assert row["CSRQ"] == b"19800102"
    assert row["CJSJ"] == b"20260302080509"
    assert row["JTDZ"].endswith(UNDECODABLE_TAIL)  # planted bytes pass untouched

    english = RowRenderer(dialects.load("english_pg"), "lab_result")
    row = english.render({"flag": "high", "value_num": Decimal("7.5")}, insert_key=3)
    assert row == {"abnormal_flag": "H", "value_num": Decimal("7.5")}


def test_added_columns_fill_inserts_only():
    renderer = RowRenderer(dialects.load("english_pg"), "patient")
    renderer.add_column("wechat_openid", "wx{key:04d}")
    assert renderer.render({"name": "李四"}, insert_key=12)["wechat_openid"] == "wx0012"
    assert "wechat_openid" not in renderer.render({"name": "李四"})


def _raw(name: str) -> dict:
    from importlib import resources

    path = resources.files("streamhub.simulate") / "dialects" / f"{name}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_a_dialect_missing_a_table_or_a_code_is_refused_with_the_reason():
    raw = _raw("english_pg")
    del raw["tables"]["exam_report"]
    with pytest.raises(ValueError, match="no table for entity 'exam_report'"):
        Dialect.model_validate(raw)
    raw = _raw("pinyin_gbk")
    del raw["codes"]["sex"]["female"]
    with pytest.raises(ValueError, match="'sex' lacks"):
        Dialect.model_validate(raw)


def test_a_dialect_file_can_be_loaded_by_path(tmp_path):
    raw = _raw("english_pg")
    raw["name"] = "vendor_x"
    path = tmp_path / "vendor_x.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert dialects.load(str(path)).name == "vendor_x"
    with pytest.raises(DialectError, match="unknown dialect"):
        dialects.load("no_such_vendor")
