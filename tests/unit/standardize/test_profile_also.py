"""One source table feeding several entities (`also`), issue 15 item 3: the profile language,
the mapper, and how a change is counted (once, whichever entities it fed)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamhub.core.identity import (
    change_version,
    further_record_id,
    row_record_id,
    version_id,
)
from streamhub.core.window_counts import WindowCounts
from streamhub.standardize.errors import ProfileError
from streamhub.standardize.mapper import map_further, map_row
from streamhub.standardize.profile import Profile, load_profile

ROOT = Path(__file__).resolve().parents[3]
WIDE = ROOT / "tests" / "data" / "third_vendor" / "wide_mariadb.yaml"
TABLE = "门诊挂号"
ROW = {
    "MZHM": "M0001", "GHSJ": "20260302083000", "BRID": "B001", "JZLX": "MZ", "KSDM": "K0301",
    "ZDDM": "J06.9", "ZDMC": "急性上呼吸道感染", "ZFBZ": "0", "ZDZF": "0",
}  # fmt: skip


@pytest.fixture(scope="module")
def wide() -> Profile:
    return load_profile(WIDE)


def test_the_row_maps_to_an_encounter_and_its_diagnosis(wide: Profile) -> None:
    encounter = map_row(wide, TABLE, ROW)
    [(mapping, diagnosis)] = map_further(wide, TABLE, ROW)
    assert encounter.entity == "encounter" and mapping.entity == "diagnosis"
    assert diagnosis is not None
    assert (
        diagnosis.values["diagnosis_id"]
        == encounter.values["encounter_id"]
        == ("M0001|20260302083000")
    )
    assert diagnosis.values["icd_code"] == "J06.9"
    assert diagnosis.business_time == datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    # all columns are read by one of the two entities
    assert wide.tables[TABLE].used_columns() == set(ROW)


def test_an_empty_embedded_diagnosis_is_no_diagnosis(wide: Profile) -> None:
    for empty in ("", None, "  "):
        [(_, diagnosis)] = map_further(wide, TABLE, {**ROW, "ZDDM": empty})
        assert diagnosis is None
    # the encounter does not depend on it
    assert map_row(wide, TABLE, {**ROW, "ZDDM": None}).values["visit_no"] == "M0001"


def test_each_entity_applies_its_own_cancel_rule(wide: Profile) -> None:
    withdrawn = {**ROW, "ZFBZ": "1"}
    assert map_row(wide, TABLE, withdrawn).cancelled
    assert map_further(wide, TABLE, withdrawn)[0][1].cancelled is False  # type: ignore[union-attr]
    voided = {**ROW, "ZDZF": "1"}
    assert not map_row(wide, TABLE, voided).cancelled
    assert map_further(wide, TABLE, voided)[0][1].cancelled is True  # type: ignore[union-attr]


def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WIDE.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t["also"].append(copy.deepcopy(t["also"][0])), "already feeds diagnosis"),
        (lambda t: t["also"][0].update(entity="encounter"), "already feeds encounter"),
        (lambda t: t["also"][0].update(ignore=["BZ"]), "put 'ignore' on the table's first"),
        (lambda t: t["also"][0].update(also=[]) or t["also"][0]["also"].append(
            {"entity": "patient", "fields": {"patient_id": "BRID"}}), "nests one level only"),
        (lambda t: t["also"][0]["fields"].update(icd_code="ZDDMX") or t.update(ignore=["ZDDMX"]),
         "columns both used and ignored"),
        (lambda t: t["also"][0]["fields"].pop("icd_code"), "key field 'icd_code' is not mapped"),
    ],
)  # fmt: skip
def test_malformed_further_entities_are_refused_at_load(
    tmp_path: Path, change: Any, message: str
) -> None:
    document = _document()
    change(document["tables"][TABLE])
    path = tmp_path / "wide.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


def test_a_change_that_fed_two_records_is_counted_once() -> None:
    row_id = "0f" * 16
    further = further_record_id(row_id, "diagnosis")
    assert further != row_id and row_record_id(further) == row_id == row_record_id(row_id)
    assert change_version(further, 7) == change_version(row_id, 7) == version_id(row_id, 7)
    counts = WindowCounts()
    at = datetime(2026, 3, 2, 0, 30, 5, tzinfo=UTC)
    for entity, record_id in (("encounter", row_id), ("diagnosis", further)):
        counts.add(entity, {
            "institution_id": "X", "source_system": "his", "source_database": "db",
            "source_table": TABLE, "commit_time": at, "operation": "u",
            "record_id": record_id, "source_position_seq": 7,
        })  # fmt: skip
    events = {value["entity"]: value for _, value in counts.events(0)}
    assert (events["encounter"]["upserts"], events["diagnosis"]["upserts"]) == (1, 0)
    # both list the change's version: reconciliation's distinct versions count it once
    assert (
        events["encounter"]["versions"]
        == events["diagnosis"]["versions"]
        == [version_id(row_id, 7)]
    )


def test_profiles_check_reads_the_further_entities_too(wide: Profile) -> None:
    from streamhub.standardize.profile_check import check_profile

    columns = list(ROW)
    assert check_profile(wide, {TABLE: columns}) == []
    [finding] = check_profile(wide, {TABLE: [c for c in columns if c != "ZDMC"]})
    assert (finding.severity, finding.kind) == ("error", "unknown_column")
    assert "(diagnosis.icd_name)" in finding.message
