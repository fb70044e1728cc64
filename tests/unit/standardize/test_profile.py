"""Profiles load, cover every table and column of their simulator dialect, and fail loudly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from streamhub.simulate import dialect as dialects
from streamhub.simulate.dialect import Dialect
from streamhub.standardize.errors import ProfileError, UnmappedTableError
from streamhub.standardize.profile import Profile, load_profile, load_profiles

ROOT = Path(__file__).resolve().parents[3]
PROFILES = ROOT / "connectors" / "profiles"
THIRD = ROOT / "tests" / "data" / "third_vendor"
# (dialect to load, profile file): the two packaged vendors and the profile-only third one
PAIRS = [
    ("english_pg", PROFILES / "english_pg.yaml"),
    ("pinyin_gbk", PROFILES / "pinyin_gbk.yaml"),
    (str(THIRD / "dialect.yaml"), THIRD / "profile.yaml"),
]
# simulator entity -> canonical entity where they differ
ENTITY_OF = {
    "registration": "encounter",
    "admission": "encounter",
    "settlement": "charge",
    "exam_report": "exam",
}
# code set -> its canonical value meaning "cancelled", for cancel rules reading raw codes
CANCELLED = {"flag": "yes", "registration_status": "withdrawn"}


def pair_id(pair: tuple[str, Path]) -> str:
    return Path(pair[0]).stem if pair[0].endswith(".yaml") else pair[0]


@pytest.fixture(params=PAIRS, ids=pair_id)
def pair(request: pytest.FixtureRequest) -> tuple[Dialect, Profile]:
    name, path = request.param
    return dialects.load(name), load_profile(path)


def test_shipped_profiles_load_by_name() -> None:
    profiles = load_profiles(PROFILES)
    assert set(profiles) == {"english_pg", "pinyin_gbk"}
    assert profiles["pinyin_gbk"].ref == "pinyin_gbk@1"
    assert profiles["english_pg"].timezone == "Asia/Shanghai"


def test_profile_name_matches_its_dialect(pair: tuple[Dialect, Profile]) -> None:
    # the simulator's connector files name the dialect as their profile
    dialect, profile = pair
    assert profile.name == dialect.name


def test_every_dialect_table_is_mapped_to_its_entity(pair: tuple[Dialect, Profile]) -> None:
    dialect, profile = pair
    for entity, table in dialect.tables.items():
        assert profile.table(table.name).entity == ENTITY_OF.get(entity, entity), table.name
    assert set(profile.tables) == {t.name for t in dialect.tables.values()}


def test_every_dialect_column_is_mapped_or_knowingly_ignored(
    pair: tuple[Dialect, Profile],
) -> None:
    dialect, profile = pair
    for table in dialect.tables.values():
        mapping = profile.table(table.name)
        columns = set(table.columns)
        assert mapping.used_columns() | set(mapping.ignore) == columns, table.name
        assert mapping.fields[mapping.key_field].source == table.primary_key


def test_every_local_code_of_the_dialect_is_crosswalked(pair: tuple[Dialect, Profile]) -> None:
    dialect, profile = pair
    for table in dialect.tables.values():
        mapping = profile.table(table.name)
        for column, spec in table.columns.items():
            if spec.code is None:
                continue
            local_codes = set(dialect.codes[spec.code].values())
            readers = [s for s in mapping.fields.values() if s.source == column]
            rule = mapping.cancelled
            if rule is not None and rule.source == column:
                # the rule must name the vendor's cancelled code and nothing it never writes
                assert dialect.codes[spec.code][CANCELLED[spec.code]] in rule.values, table.name
                assert rule.values <= local_codes, table.name
                continue
            if any(c.field == spec.field and c.code is None for c in table.columns.values()):
                continue  # the table also keeps the standard code (BZKSDM): that one is read
            walked = [s for s in readers if s.crosswalk is not None]
            assert walked, f"{table.name}.{column} holds codes but no field crosswalks them"
            for reader in walked:
                assert reader.crosswalk is not None
                missing = local_codes - set(profile.crosswalks[reader.crosswalk])
                assert not missing, f"{table.name}.{column}: {sorted(missing)} not crosswalked"


def test_table_lookup_accepts_schema_and_names_what_to_do() -> None:
    profile = load_profile(PROFILES / "english_pg.yaml")
    assert profile.table("public.patients").entity == "patient"
    with pytest.raises(UnmappedTableError, match=r"english_pg@1 .*'nurses'.*tables:"):
        profile.table("nurses")


# --- bad profile files ------------------------------------------------------------------

MINIMAL: dict[str, object] = {
    "name": "tiny",
    "version": 1,
    "vendor": "test",
    "crosswalks": {"sex": {"M": "1"}},
    "tables": {
        "pat": {
            "entity": "patient",
            "fields": {"patient_id": "pid", "sex_code": {"from": "sx", "crosswalk": "sex"}},
        }
    },
}


def write(tmp_path: Path, document: object, name: str = "tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def altered(change: dict[str, object]) -> dict[str, object]:
    document = yaml.safe_load(yaml.safe_dump(MINIMAL))
    table = document["tables"]["pat"]
    for key, value in change.items():
        if key.startswith("field:"):
            table["fields"][key.removeprefix("field:")] = value
        elif key.startswith("table:"):
            table[key.removeprefix("table:")] = value
        else:
            document[key] = value
    return document


def test_a_minimal_profile_loads(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, MINIMAL))
    assert profile.table("pat").key_field == "patient_id"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"table:entity": "nurse"}, "unknown entity 'nurse'"),
        ({"field:shoe_size": "ss"}, "patient has no field 'shoe_size'"),
        ({"field:id_type": {"from": "it", "crosswalk": "idt"}}, "unknown crosswalk 'idt'"),
        ({"field:region_name": {"from": "r", "derive": "county"}}, "unknown derivation 'county'"),
        ({"field:name_masked": "xm"}, "name_masked is filled by the pseudonymizer"),
        ({"field:region_code": {"from": "r", "const": "350203"}}, "exactly one of 'from'"),
        ({"table:business_time": "registered_time"}, "business_time names 'registered_time'"),
        ({"table:cancelled": {"from": "x"}}, "exactly one of 'equals' or 'in'"),
        ({"table:key": "region_code"}, "key field 'region_code' is not mapped"),
        ({"table:ignore": ["pid"]}, "both used and ignored"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"version": 0}, "version"),
    ],
)
def test_bad_profiles_fail_naming_the_file_and_problem(
    tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    path = write(tmp_path, altered(change))
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_a_typo_in_a_closed_value_set_fails_at_load(tmp_path: Path) -> None:
    document = altered({"table:entity": "encounter"})
    document["tables"]["pat"]["fields"] = {
        "encounter_id": "gh",
        "encounter_type": {"const": "impatient"},
    }
    with pytest.raises(ProfileError, match="impatient"):
        load_profile(write(tmp_path, document))


def test_invalid_yaml_and_non_mappings_are_profile_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"broken\.yaml is not valid YAML"):
        load_profile(broken)
    with pytest.raises(ProfileError, match=r"list\.yaml must hold a mapping"):
        load_profile(write(tmp_path, ["a"], "list.yaml"))


def test_duplicate_profile_names_name_both_files(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL, "a.yaml")
    write(tmp_path, MINIMAL, "b.yaml")
    (tmp_path / "README.md").write_text("not a profile", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"b\.yaml repeats the name 'tiny' of .*a\.yaml"):
        load_profiles(tmp_path)


def test_missing_profile_directory(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="does not exist"):
        load_profiles(tmp_path / "nowhere")


def test_yaml_numbers_in_crosswalks_compare_as_text(tmp_path: Path) -> None:
    document = altered({"crosswalks": {"sex": {1: 1, 2: 2}}})
    profile = load_profile(write(tmp_path, document))
    assert profile.crosswalks["sex"] == {"1": "1", "2": "2"}
