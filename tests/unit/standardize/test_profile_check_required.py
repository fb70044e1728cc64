"""profiles check's "required field has no source" report, without a database."""

from __future__ import annotations

from pathlib import Path

import yaml

from streamhub.standardize.profile import load_profile
from streamhub.standardize.profile_check import _unsourced

PROFILES = Path(__file__).resolve().parents[3] / "connectors" / "profiles"


def test_a_patient_mapping_without_name_or_id_number_is_reported(tmp_path: Path) -> None:
    """Name and ID number are required on their clear values (they leave only as a keyed
    person key, or not at all), so a profile that maps neither is told so."""
    document = yaml.safe_load((PROFILES / "english_pg.yaml").read_text(encoding="utf-8"))
    patients = next(t for t in document["tables"].values() if t["entity"] == "patient")
    shipped = load_profile(PROFILES / "english_pg.yaml")
    table = next(n for n, t in document["tables"].items() if t["entity"] == "patient")
    assert _unsourced(shipped.tables[table]) == []
    for clear in ("name", "id_number"):
        column = patients["fields"].pop(clear)
        patients.setdefault("ignore", []).append(
            column if isinstance(column, str) else column["from"]
        )
    path = tmp_path / "english_pg.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    reported = _unsourced(load_profile(path).tables[table])
    assert any("'name'" in line for line in reported), reported
    assert any("'id_number'" in line for line in reported), reported
