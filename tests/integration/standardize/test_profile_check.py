"""`streamhub profiles check` against real sources: one scratch database per test, on
PostgreSQL and on MariaDB (Chinese table names, latin1 columns holding GB18030 text).

Each report of the checker has its own test, run on both engines: a clean profile passes,
and one mistake at a time gives exactly its finding (with its severity and exit code).
"""

from __future__ import annotations

import copy
import datetime
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from streamhub.cli.main import cli
from streamhub.config import Settings
from streamhub.stack.mariadb import MariaDB
from streamhub.stack.postgres import Postgres

PATIENTS = "病人信息"
VISITS = "门诊挂号"
CLEAN_PROFILE: dict[str, Any] = {
    "name": "check_test",
    "version": 1,
    "vendor": "a test vendor",
    "crosswalks": {
        "sex": {"男": "1", "女": "2"},
        "visit_type": {"MZ": "outpatient", "JZ": "emergency"},
        "department": {"K03": "03", "K04": "04"},
    },
    "tables": {
        PATIENTS: {
            "entity": "patient",
            "business_time": {"from": "GXSJ"},
            "fields": {
                "patient_id": "BRID",
                "name": "XM",
                "sex_code": {"from": "XB", "crosswalk": "sex"},
                "id_type": {"const": "01"},
                "id_number": "SFZH",
                "birth_date": "CSRQ",
            },
        },
        VISITS: {
            "entity": "encounter",
            "business_time": "registered_time",
            "cancelled": {"from": "ZFBZ", "equals": "1"},
            "fields": {
                "encounter_id": {"from": ["MZHM", "GHSJ"]},
                "patient_id": "BRID",
                "encounter_type": {"from": "JZLX", "crosswalk": "visit_type"},
                "department_code": {"from": "KSDM", "crosswalk": "department"},
                "registered_time": "GHSJ",
            },
            "ignore": ["ZDDM", "ZDMC", "BZ"],
        },
    },
}
AT = datetime.datetime(2026, 3, 2, 8, 30)
PATIENT_ROWS = [
    ("B001", "张三", "男", "110101199003071234", datetime.date(1990, 3, 7), AT),
    ("B002", "李䶮", "女", "110101198502021234", datetime.date(1985, 2, 2), AT),
]
VISIT_ROWS = [
    ("M0001", AT, "B001", "MZ", "K03", "J06.9", "急性上呼吸道感染", "0", "初诊"),
    ("M0001", AT.replace(day=3), "B002", "JZ", "K04", "", "", "1", ""),
]


class Scratch:
    """One test's own database on one engine, with the two tables above."""

    def __init__(self, settings: Settings, engine: str, workdir: Path) -> None:
        self.settings, self.engine = settings, engine
        self.db = f"pc_{uuid.uuid4().hex[:8]}"
        self.connectors = workdir / "connectors"
        self.profiles = workdir / "profiles"
        self.connectors.mkdir()
        self.profiles.mkdir()
        if engine == "postgresql":
            self._postgres()
        else:
            self._mariadb()

    def _postgres(self) -> None:
        server = Postgres(self.settings).connect()
        server.autocommit = True
        with server.cursor() as cur:
            cur.execute(f"CREATE DATABASE {self.db} ENCODING 'UTF8' TEMPLATE template0")
        server.close()
        conn = Postgres(self.settings).connect(self.db)
        with conn, conn.cursor() as cur:
            cur.execute(
                f'CREATE TABLE "{PATIENTS}" (BRID varchar(20) PRIMARY KEY, XM varchar(40), '
                "XB varchar(4), SFZH varchar(18), CSRQ date, GXSJ timestamp(3))"
            )
            cur.execute(
                f'CREATE TABLE "{VISITS}" (MZHM varchar(20), GHSJ timestamp(3), '
                "BRID varchar(20), JZLX varchar(4), KSDM varchar(10), ZDDM varchar(20), "
                "ZDMC varchar(60), ZFBZ char(1), BZ varchar(40), PRIMARY KEY (MZHM, GHSJ))"
            )
            for row in PATIENT_ROWS:
                cur.execute(f'INSERT INTO "{PATIENTS}" VALUES (%s, %s, %s, %s, %s, %s)', row)
            for row in VISIT_ROWS:
                cur.execute(
                    f'INSERT INTO "{VISITS}" VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)', row
                )
        conn.close()
        # PostgreSQL folds unquoted names to lower case: the profile names them as stored
        self.fold = str.lower

    def _mariadb(self) -> None:
        conn = MariaDB(self.settings).connect()
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {self.db}")
            cur.execute(f"USE {self.db}")
            # no gb18030 charset in MariaDB: latin1 columns hold the GB18030 bytes
            cur.execute(
                f"CREATE TABLE `{PATIENTS}` (BRID VARCHAR(20) PRIMARY KEY, XM VARCHAR(40), "
                "XB VARCHAR(4), SFZH VARCHAR(18), CSRQ DATE, GXSJ DATETIME(3)) "
                "DEFAULT CHARSET=latin1"
            )
            cur.execute(
                f"CREATE TABLE `{VISITS}` (MZHM VARCHAR(20), GHSJ DATETIME(3), "
                "BRID VARCHAR(20), JZLX VARCHAR(4), KSDM VARCHAR(10), ZDDM VARCHAR(20), "
                "ZDMC VARCHAR(60), ZFBZ CHAR(1), BZ VARCHAR(40), PRIMARY KEY (MZHM, GHSJ)) "
                "DEFAULT CHARSET=latin1"
            )
            for row in PATIENT_ROWS:
                cur.execute(f"INSERT INTO `{PATIENTS}` VALUES (%s, %s, %s, %s, %s, %s)", _gb(row))
            for row in VISIT_ROWS:
                cur.execute(
                    f"INSERT INTO `{VISITS}` VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    _gb(row),
                )
        conn.commit()
        conn.close()
        self.fold = str.upper

    def drop(self) -> None:
        if self.engine == "postgresql":
            server = Postgres(self.settings).connect()
            server.autocommit = True
            with server.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
            server.close()
        else:
            conn = MariaDB(self.settings).connect()
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {self.db}")
            conn.close()

    def run(self, profile: dict[str, Any], tables: list[str] | None = None) -> Result:
        """Write the connector and the (case-folded) profile, run the command."""
        name = f"pc-{self.db[3:]}"
        connection: dict[str, Any] = {"database": self.db}
        document: dict[str, Any] = {
            "name": name,
            "institution_id": "123502001549897397",
            "system": "his",
            "engine": "postgresql" if self.engine == "postgresql" else "mariadb",
            "tables": tables or [PATIENTS, VISITS],
            "profile": "check_test",
        }
        if self.engine == "postgresql":
            connection |= {
                "host": self.settings.postgres_host,
                "port": self.settings.postgres_port,
                "user": self.settings.postgres_user,
                "password_secret": "postgres_password",
            }
        else:
            connection |= {
                "host": self.settings.mariadb_host,
                "port": self.settings.mariadb_port,
                "user": self.settings.mariadb_user,
                "password_secret": "mariadb_password",
            }
            document |= {"encoding": "gb18030", "mysql": {"server_id": random.randint(1000, 60000)}}
        document["connection"] = connection
        (self.connectors / f"{name}.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))
        folded = _fold_columns(profile, self.fold)
        (self.profiles / "check_test.yaml").write_text(yaml.safe_dump(folded, allow_unicode=True))
        return CliRunner().invoke(
            cli,
            [
                *("profiles", "check", "--connector", name),
                *("--connectors-dir", str(self.connectors), "--profiles-dir", str(self.profiles)),
            ],
            obj={"settings": self.settings},
        )


def _gb(row: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(v.encode("gb18030") if isinstance(v, str) else v for v in row)


def _fold_columns(profile: dict[str, Any], fold: Callable[[str], str]) -> dict[str, Any]:
    """Column names as the engine stores them (folded); table names and fields stay."""

    def spec(value: Any) -> Any:
        if isinstance(value, str):
            return fold(value)
        if isinstance(value, dict) and "from" in value:
            source = value["from"]
            return {
                **value,
                "from": [fold(s) for s in source] if isinstance(source, list) else fold(source),
            }
        return value

    out = copy.deepcopy(profile)
    for mapping in out["tables"].values():
        mapping["fields"] = {k: spec(v) for k, v in mapping["fields"].items()}
        if isinstance(mapping.get("business_time"), dict):
            mapping["business_time"] = spec(mapping["business_time"])
        if "cancelled" in mapping and "from" in mapping["cancelled"]:
            mapping["cancelled"]["from"] = fold(mapping["cancelled"]["from"])
        mapping["ignore"] = [fold(c) for c in mapping.get("ignore", [])]
    return out


@pytest.fixture(params=["postgresql", "mariadb"])
def scratch(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> Iterator[Scratch]:
    made = Scratch(settings, request.param, tmp_path)
    try:
        yield made
    finally:
        made.drop()


def profile_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    profile = copy.deepcopy(CLEAN_PROFILE)
    change(profile)
    return profile


def findings(result: Result) -> list[str]:
    return [line.strip() for line in result.output.splitlines() if line.startswith("  ")]


def test_a_clean_profile_passes(scratch: Scratch) -> None:
    # GB18030 sex codes (男/女) sampled from MariaDB's latin1 columns match the crosswalk
    result = scratch.run(CLEAN_PROFILE)
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output
    assert findings(result) == []


def test_an_unknown_from_column_is_an_error(scratch: Scratch) -> None:
    def misspell(p: dict[str, Any]) -> None:
        p["tables"][VISITS]["fields"]["patient_id"] = "BRIDX"

    result = scratch.run(profile_with(misspell))
    assert result.exit_code == 1, result.output
    error, warning = findings(result)
    assert error.startswith(f"ERROR {VISITS}  unknown_column: 'from: {scratch.fold('BRIDX')}'")
    assert "(patient_id)" in error and "would be empty in every record" in error
    # and the real column is now read by nothing
    assert warning.startswith(f"WARN  {VISITS}  unmapped_column:")
    assert f": {scratch.fold('BRID')};" in warning


def test_a_column_neither_mapped_nor_ignored_is_a_warning(scratch: Scratch) -> None:
    def forget(p: dict[str, Any]) -> None:
        p["tables"][VISITS]["ignore"].remove("BZ")

    result = scratch.run(profile_with(forget))
    assert result.exit_code == 0, result.output
    assert findings(result) == [
        f"WARN  {VISITS}  unmapped_column: columns neither mapped nor ignored: "
        f"{scratch.fold('BZ')}; map them or list them under 'ignore:'"
    ]


def test_a_required_field_without_a_source_is_an_error(scratch: Scratch) -> None:
    def drop(p: dict[str, Any]) -> None:
        del p["tables"][VISITS]["fields"]["department_code"]
        p["tables"][VISITS]["ignore"].append("KSDM")

    result = scratch.run(profile_with(drop))
    assert result.exit_code == 1, result.output
    [line] = findings(result)
    assert line.startswith(f"ERROR {VISITS}  required_field: required field 'department_code'")


def test_an_id_number_without_its_type_is_an_error(scratch: Scratch) -> None:
    def drop(p: dict[str, Any]) -> None:
        del p["tables"][PATIENTS]["fields"]["id_type"]

    result = scratch.run(profile_with(drop))
    assert result.exit_code == 1, result.output
    [line] = findings(result)
    assert line.startswith(f"ERROR {PATIENTS}  pseudonymizer_input: id_number is mapped without")
    assert "person_key stays empty" in line


def test_crosswalk_keys_never_seen_in_the_data(scratch: Scratch) -> None:
    def wrong_codes(p: dict[str, Any]) -> None:
        p["crosswalks"]["sex"] = {"M": "1", "F": "2"}  # the source writes 男/女
        p["crosswalks"]["visit_type"]["YY"] = "emergency"  # a code the source never uses

    result = scratch.run(profile_with(wrong_codes))
    assert result.exit_code == 1, result.output
    lines = findings(result)
    assert len(lines) == 2, lines
    sex = next(line for line in lines if "crosswalk 'sex'" in line)
    assert sex.startswith(f"ERROR {PATIENTS}  crosswalk_unseen:")
    assert "none of the crosswalk's keys occurs in 2 sampled value(s)" in sex
    assert "男" in sex and "女" in sex  # sex codes are not personal: quoted, decoded whole
    visit = next(line for line in lines if "crosswalk 'visit_type'" in line)
    assert visit.startswith(f"WARN  {VISITS}  crosswalk_unseen:")
    assert visit.endswith("keys never seen in a sample of 2 distinct value(s): YY")


def test_a_table_the_source_lacks_is_an_error(scratch: Scratch) -> None:
    result = scratch.run(CLEAN_PROFILE, tables=[PATIENTS, VISITS, "住院登记"])
    assert result.exit_code == 1, result.output
    assert findings(result) == [
        "ERROR 住院登记  missing_table: the source has no such table (or the user cannot see it)"
    ]
