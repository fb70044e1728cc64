"""Ids composed of several columns: `{from: [MZHM, GHSJ], join: "|"}` (issue 15, item 4)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamhub.standardize.errors import MappingError, ProfileError
from streamhub.standardize.mapper import map_row
from streamhub.standardize.profile import Profile, load_profile

AT = datetime(2026, 3, 2, 8, 30, 15)


def profile(tmp_path: Path, fields: dict[str, Any], **table: Any) -> Profile:
    document = {
        "name": "composite",
        "version": 1,
        "vendor": "test",
        "crosswalks": {"visit_type": {"MZ": "outpatient"}},
        "tables": {
            "门诊挂号": {
                "entity": "encounter",
                "business_time": "registered_time",
                "fields": {
                    "patient_id": "BRID",
                    "encounter_type": {"from": "JZLX", "crosswalk": "visit_type"},
                    "registered_time": "GHSJ",
                    **fields,
                },
                **table,
            }
        },
    }
    path = tmp_path / "composite.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return load_profile(path)


ROW = {"MZHM": "M0001", "GHSJ": AT, "BRID": "B001", "JZLX": "MZ", "ZYCS": 2}


def test_an_id_composed_of_two_columns(tmp_path: Path) -> None:
    loaded = profile(tmp_path, {"encounter_id": {"from": ["MZHM", "GHSJ"]}})
    mapped = map_row(loaded, "门诊挂号", ROW)
    # the same outpatient number on two days gives two encounters
    assert mapped.values["encounter_id"] == "M0001|2026-03-02 08:30:15"
    other_day = map_row(loaded, "门诊挂号", {**ROW, "GHSJ": AT.replace(day=3)})
    assert other_day.values["encounter_id"] != mapped.values["encounter_id"]
    assert loaded.tables["门诊挂号"].used_columns() == {"MZHM", "GHSJ", "BRID", "JZLX"}


def test_the_list_shorthand_a_separator_and_the_key(tmp_path: Path) -> None:
    loaded = profile(
        tmp_path,
        {"encounter_id": ["MZHM", "ZYCS"], "visit_no": {"from": ["BRID", "ZYCS"], "join": "-"}},
        key="visit_no",
    )
    mapped = map_row(loaded, "门诊挂号", ROW)
    assert mapped.values["encounter_id"] == "M0001|2"
    assert mapped.values["visit_no"] == "B001-2"
    assert loaded.tables["门诊挂号"].key_field == "visit_no"


def test_a_missing_part_leaves_the_id_missing(tmp_path: Path) -> None:
    loaded = profile(tmp_path, {"encounter_id": {"from": ["MZHM", "GHSJ"]}})
    with pytest.raises(MappingError, match=r"key column 'MZHM\+GHSJ' \(encounter_id\)"):
        map_row(loaded, "门诊挂号", {**ROW, "GHSJ": None})
    with pytest.raises(MappingError):
        map_row(loaded, "门诊挂号", {**ROW, "MZHM": "  "})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"from": ["MZHM"]}, "two or more different columns"),
        ({"from": ["MZHM", "MZHM"]}, "two or more different columns"),
        ({"from": ["MZHM", "GHSJ"], "crosswalk": "visit_type"}, "takes 'join' only"),
        ({"from": "MZHM", "join": "|"}, "'join' needs 'from' as a list"),
    ],
)
def test_malformed_compositions_are_refused_at_load(
    tmp_path: Path, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProfileError, match=message):
        profile(tmp_path, {"encounter_id": spec})


def test_a_composition_feeds_text_fields_only(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="admission_count: a value composed of several"):
        profile(tmp_path, {"encounter_id": "MZHM", "admission_count": ["ZYCS", "BRID"]})


def test_composed_columns_count_as_used_for_ignore(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"columns both used and ignored: \['GHSJ'\]"):
        profile(tmp_path, {"encounter_id": ["MZHM", "GHSJ"]}, ignore=["GHSJ"])
