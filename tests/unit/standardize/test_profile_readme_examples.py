"""The examples operators copy from the READMEs load as written (parsed out of the markdown)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamhub.capture.connector import load_connector
from streamhub.capture.errors import ConnectorConfigError
from streamhub.standardize.mapper import map_further, map_row
from streamhub.standardize.profile import load_profile

ROOT = Path(__file__).resolve().parents[3]
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)


def yaml_blocks(readme: Path) -> list[str]:
    return BLOCK.findall(readme.read_text(encoding="utf-8"))


def test_the_connector_example_loads_as_written(tmp_path: Path) -> None:
    [block] = yaml_blocks(ROOT / "connectors" / "README.md")
    path = tmp_path / "example.yaml"
    path.write_text(block, encoding="utf-8")
    config = load_connector(path)
    assert config.institution_id == "123502001549897397"
    assert config.name == "xm-first-hospital-his" and config.profile == "english_pg"


def test_an_unquoted_institution_id_is_told_to_be_quoted(tmp_path: Path) -> None:
    [block] = yaml_blocks(ROOT / "connectors" / "README.md")
    unquoted = block.replace('"123502001549897397"', "123502001549897397")
    assert unquoted != block
    path = tmp_path / "unquoted.yaml"
    path.write_text(unquoted, encoding="utf-8")
    with pytest.raises(ConnectorConfigError, match="quote it"):
        load_connector(path)


def test_the_wide_table_example_loads_and_feeds_two_entities(tmp_path: Path) -> None:
    [block] = [
        b
        for b in yaml_blocks(ROOT / "connectors" / "profiles" / "README.md")
        if "name: ws_mariadb_his" in b
    ]
    path = tmp_path / "ws_mariadb_his.yaml"
    path.write_text(block, encoding="utf-8")
    profile = load_profile(path)
    row = {
        "MZHM": "M0001", "GHSJ": "20260302083000", "BRID": "B001", "JZLX": "MZ",
        "KSDM": "K0301", "ZFBZ": "1", "ZDDM": "J06.9", "ZDMC": "急性上呼吸道感染", "ZDZF": "0",
    }  # fmt: skip
    mapped = map_row(profile, "门诊挂号", row)
    assert mapped.values["encounter_id"] == "M0001|20260302083000"
    assert mapped.values["department_code"] == "03.01"
    assert mapped.cancelled
    [(_, diagnosis)] = map_further(profile, "门诊挂号", row)
    assert diagnosis is not None and not diagnosis.cancelled
    assert diagnosis.values["icd_code"] == "J06.9"
    assert diagnosis.values["encounter_id"] == mapped.values["encounter_id"]
