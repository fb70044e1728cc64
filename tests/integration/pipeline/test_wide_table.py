"""One source table feeding two entities, with ids composed of two columns (issue 15, 3 and 4).

A MariaDB HIS's registration table 门诊挂号 (GB18030 text in latin1 columns, natural key
MZHM + GHSJ, the outpatient number reused across days) carries the primary diagnosis. The
profile (tests/data/third_vendor/wide_mariadb.yaml) maps it to an encounter and, through
`also`, a diagnosis. Snapshot, then streamed inserts, a diagnosis correction, a diagnosis
removed and one added, a registration withdrawn, a diagnosis withdrawn, a row deleted: after
capture -> standardize -> land, ClickHouse holds exactly the source's encounters and
diagnoses, and every window of the table reconciles (one change counted once, whichever
entities it fed), with the "standardized" column equal to the source's changes.
"""

from __future__ import annotations

import random
import shutil
import threading
import time
import uuid
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings
from streamhub.reconcile.result import Status
from streamhub.stack.mariadb import MariaDB
from streamhub.standardize.pseudonym import Pseudonymizer

from ..capture.helpers import wait_until
from ..reconcile.helpers import ReconcilePipeline
from .test_end_to_end import captured

WIDE_PROFILE = Path(__file__).resolve().parents[2] / "data" / "third_vendor" / "wide_mariadb.yaml"
TABLE = "门诊挂号"
INSTITUTION = "123502001549897397"
D1, D2 = datetime(2026, 3, 2, 8, 30), datetime(2026, 3, 3, 9, 0)
COLUMNS = "(MZHM, GHSJ, BRID, JZLX, KSDM, ZDDM, ZDMC, ZFBZ, ZDZF)"
INSERT = f"INSERT INTO `{TABLE}` {COLUMNS} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"


def _gb(*row: object) -> tuple[object, ...]:
    """GB18030 bytes for latin1 columns; times as this HIS writes them (compact text)."""
    return tuple(
        v.encode("gb18030")
        if isinstance(v, str)
        else f"{v:%Y%m%d%H%M%S}"
        if isinstance(v, datetime)
        else v
        for v in row
    )


class Source:
    def __init__(self, settings: Settings, database: str) -> None:
        self.database = database
        self.conn = MariaDB(settings).connect()
        self.changes = 0  # row changes written (snapshot reads included)
        with self.conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {database}")
            cur.execute(f"USE {database}")
            # MariaDB has no gb18030 charset: latin1 columns hold the GB18030 bytes
            cur.execute(
                f"CREATE TABLE `{TABLE}` (MZHM VARCHAR(20) NOT NULL, GHSJ CHAR(14) NOT NULL, "
                "BRID VARCHAR(20), JZLX VARCHAR(4), KSDM VARCHAR(10), ZDDM VARCHAR(20), "
                "ZDMC VARCHAR(60), ZFBZ CHAR(1), ZDZF CHAR(1), PRIMARY KEY (MZHM, GHSJ)) "
                "DEFAULT CHARSET=latin1"
            )
        self.conn.commit()

    def write(self, sql: str, *args: object) -> None:
        with self.conn.cursor() as cur:
            self.changes += cur.execute(sql, _gb(*args))
        self.conn.commit()

    def drop(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {self.database}")
        self.conn.close()


def connector(settings: Settings, directory: Path, database: str) -> ConnectorConfig:
    document: dict[str, Any] = {
        "name": f"wide-{database.replace('_', '-')}",
        "institution_id": INSTITUTION,
        "system": "his",
        "engine": "mariadb",
        "connection": {
            "host": settings.mariadb_host,
            "port": settings.mariadb_port,
            "database": database,
            "user": settings.mariadb_user,
            "password_secret": "mariadb_password",
        },
        "tables": [TABLE],
        "profile": "wide_his",
        "encoding": "gb18030",
        "mysql": {"server_id": random.randint(1000, 60000)},
        "heartbeat_s": 1,
        "row_count_s": 60,
    }
    path = directory / f"{document['name']}.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return ConnectorConfig.model_validate(document)


def stream_changes(source: Source) -> None:
    """The streamed part: each line one change of the row named."""
    w = source.write
    w(INSERT, "M0002", D1.replace(hour=10), "B003", "MZ", "K0301", None, None, "0", "0")
    w(INSERT, "M0003", D1.replace(hour=11), "B004", "MZ", "K0301", "E11.9", "2型糖尿病", "0", "0")
    # a diagnosis corrected (the reason the issue was filed: it left no trace)
    w(f"UPDATE `{TABLE}` SET ZDDM = %s, ZDMC = %s WHERE MZHM = 'M0001' AND GHSJ = %s",
      "J20.9", "急性支气管炎", D1)  # fmt: skip
    # a diagnosis removed: its record is deleted, the encounter stays
    w(f"UPDATE `{TABLE}` SET ZDDM = '', ZDMC = '' WHERE MZHM = 'M0001' AND GHSJ = %s", D2)
    # a diagnosis added to a registration that had none
    w(f"UPDATE `{TABLE}` SET ZDDM = %s, ZDMC = %s WHERE MZHM = 'M0002'", "K29.7", "胃炎")
    # the registration withdrawn: the encounter is cancelled, its diagnosis is not
    w(f"UPDATE `{TABLE}` SET ZFBZ = '1' WHERE MZHM = 'M0003'")
    # the diagnosis alone withdrawn, by its own rule
    w(INSERT, "M0004", D1.replace(hour=12), "B005", "JZ", "K0400", "J06.9", "急性上呼吸道感染䶮",
      "0", "1")  # fmt: skip
    # a row inserted and deleted: both of its records go
    w(INSERT, "M0005", D1.replace(hour=13), "B006", "MZ", "K0301", "I10", "高血压", "0", "0")
    w(f"DELETE FROM `{TABLE}` WHERE MZHM = 'M0005'")


def test_a_wide_table_feeds_two_entities_exactly_and_reconciles(
    capture_settings: Settings, tmp_path: Path
) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    shutil.copy(WIDE_PROFILE, profiles / "wide_his.yaml")
    settings = capture_settings.model_copy(update={"profiles_dir": profiles})
    prefix = f"wt{uuid.uuid4().hex[:6]}"
    source = Source(settings, f"{prefix}_his")
    connectors_dir = tmp_path / "connectors"
    connectors_dir.mkdir()
    pipeline = ReconcilePipeline(
        settings, tmp_path, connectors_dir, uuid.uuid4().hex[:8],
        reconcile_args=["--grace", "15s", "--retention", "15m", "--judge-every", "2"],
    )  # fmt: skip
    try:
        # the snapshot: the same outpatient number on two days is two registrations
        source.write(INSERT, "M0001", D1, "B001", "MZ", "K0301", "J06.9", "急性上呼吸道感染",
                     "0", "0")  # fmt: skip
        source.write(INSERT, "M0001", D2, "B002", "JZ", "K0400", "I10", "高血压", "0", "0")
        config = connector(settings, connectors_dir, source.database)
        pipeline.pin_groups_to_end()
        migrated = pipeline.streamhub("clickhouse", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        for worker in ("standardize", "land", "reconcile"):
            pipeline.start(worker)
        with captured(settings, [config]):
            writer = threading.Thread(target=stream_changes, args=(source,))
            time.sleep(2)  # past the snapshot
            writer.start()
            writer.join()
            assert pipeline.wait_drained(180), (
                f"lag {pipeline.lag()}\n{pipeline.log_tail('standardize')}\n"
                f"{pipeline.log_tail('land')}"
            )
            results = _wait_reconciled(pipeline, prefix, source.changes)
        pipeline.stop_all()
        state = _landed(pipeline, source.database)
    finally:
        pipeline.stop_all()
        source.drop()

    tokens = Pseudonymizer.from_settings(settings)

    def encounter(mzhm: str, at: datetime) -> str:
        return tokens.token("encounter", INSTITUTION, f"{mzhm}|{at:%Y%m%d%H%M%S}")

    def diagnosis(mzhm: str, at: datetime) -> str:
        return tokens.token("diagnosis", INSTITUTION, f"{mzhm}|{at:%Y%m%d%H%M%S}")

    encounters = {
        r["encounter_id"]: (bool(r["cancelled"]), r["department_code"]) for r in state["encounter"]
    }
    assert encounters == {
        encounter("M0001", D1): (False, "03.01"),
        encounter("M0001", D2): (False, "04"),
        encounter("M0002", D1.replace(hour=10)): (False, "03.01"),
        encounter("M0003", D1.replace(hour=11)): (True, "03.01"),
        encounter("M0004", D1.replace(hour=12)): (False, "04"),
    }
    diagnoses = {
        r["diagnosis_id"]: (r["icd_code"], r["icd_name"], bool(r["cancelled"]), r["encounter_id"])
        for r in state["diagnosis"]
    }
    assert diagnoses == {
        diagnosis("M0001", D1): ("J20.9", "急性支气管炎", False, encounter("M0001", D1)),
        diagnosis("M0002", D1.replace(hour=10)): (
            "K29.7", "胃炎", False, encounter("M0002", D1.replace(hour=10))),
        diagnosis("M0003", D1.replace(hour=11)): (
            "E11.9", "2型糖尿病", False, encounter("M0003", D1.replace(hour=11))),
        diagnosis("M0004", D1.replace(hour=12)): (
            "J06.9", "急性上呼吸道感染䶮", True, encounter("M0004", D1.replace(hour=12))),
    }  # fmt: skip
    # each record its own id: the row's, and the row's scoped by the further entity
    by_encounter = {r["encounter_id"]: r["record_id"] for r in state["encounter"]}
    for r in state["diagnosis"]:
        assert r["record_id"] == f"{by_encounter[r['encounter_id']]}:diagnosis"
    # reconciliation: one change counted once, standardized as often as the source changed
    assert sum(r.source_changes for r in results) == source.changes, [asdict(r) for r in results]
    for r in results:
        assert r.status in (Status.MATCH, Status.LATE), asdict(r)
        assert r.landed == r.source_changes == r.standardized, asdict(r)
        assert r.dead_lettered == 0, asdict(r)


def _landed(pipeline: ReconcilePipeline, database: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for entity, columns in (
        ("encounter", "record_id, encounter_id, cancelled, department_code"),
        ("diagnosis", "record_id, diagnosis_id, encounter_id, icd_code, icd_name, cancelled"),
    ):
        out[entity] = pipeline.query(
            f"SELECT {columns} FROM std_{entity} FINAL "
            f"WHERE source_database = '{database}' AND NOT deleted"
        )
    return out


def _wait_reconciled(pipeline: ReconcilePipeline, prefix: str, changes: int) -> list[Any]:
    latest: list[Any] = []

    def judged() -> bool:
        latest[:] = pipeline.results(prefix)
        return (
            sum(r.source_changes for r in latest) == changes
            and all(r.status in (Status.MATCH, Status.LATE) for r in latest)
            and all(r.standardized == r.source_changes for r in latest)
        )

    wait_until(judged, 150, every_s=3)  # asserted after the final state, which says more
    return latest
