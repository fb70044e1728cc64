from __future__ import annotations

from datetime import datetime

from streamhub.fleet.tables import RowReader, column_kind, table_info
from streamhub.simulate.dialect import load


def test_kinds_come_from_the_capture_readers_type_maps() -> None:
    assert column_kind("postgres", "timestamp(3)") == "local_timestamp_ms"
    assert column_kind("postgres", "numeric(12,2)") == "decimal"
    assert column_kind("postgres", "boolean") == "boolean"
    assert column_kind("mariadb", "DECIMAL(12,2)") == "decimal"
    assert column_kind("mariadb", "CHAR(14)") == "string"
    assert column_kind("mariadb", "INT") == "int"


def test_a_table_is_described_as_its_reader_would() -> None:
    pg = table_info(load("english_pg"), "charge", "fleet_h0001_his")
    assert (pg.database, pg.schema, pg.name) == ("fleet_h0001_his", "public", "charges")
    assert pg.key_columns == ("charge_id",)
    maria = table_info(load("pinyin_gbk"), "patient", "fleet_h0002_his")
    assert maria.schema is None and maria.full_name == "fleet_h0002_his.GY_BRXX"


def test_rendered_values_become_what_the_engine_returns() -> None:
    dialect = load("english_pg")
    spec = dialect.tables["order"]
    reader = RowReader(dialect, spec)
    flag = next(n for n, c in spec.columns.items() if c.type == "boolean")
    assert reader.read({flag: "true"})[flag] is True
    assert reader.read({flag: "false"})[flag] is False
    charge = RowReader(dialect, dialect.tables["charge"])
    read = charge.read(
        {"quantity": 2, "charged_at": datetime(2026, 3, 2, 9, 0, 0, 123456), "item_name": "x"}
    )
    assert str(read["quantity"]) == "2.00"  # numeric(10,2): its scale
    assert read["charged_at"] == datetime(2026, 3, 2, 9, 0, 0, 123000)
    patient = RowReader(dialect, dialect.tables["patient"])
    char_column = next(
        n for n, c in dialect.tables["patient"].columns.items() if c.type == "char(6)"
    )
    assert patient.read({char_column: "3502"})[char_column] == "3502  "  # bpchar pads
    maria = load("pinyin_gbk")
    gy = RowReader(maria, maria.tables["patient"])
    assert gy.read({"CJSJ": "20260302090000", "XM": "王小红"}) == {
        "CJSJ": "20260302090000",
        "XM": "王小红",
    }
