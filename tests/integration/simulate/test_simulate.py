"""The simulator against the real PostgreSQL and MariaDB: the ledger is what the databases hold."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from streamhub.codes import catalogue
from streamhub.config import Settings
from streamhub.core.clock import ManualClock
from streamhub.simulate.bad_records import BAD_KINDS
from streamhub.simulate.faults import ControlDirectory, parse_fault
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.sources import open_sources
from streamhub.simulate.verify import drop_databases, verify_ledger

START = datetime(2026, 3, 2, 8, 30)


def _options(prefix: str, **changes: Any) -> SimulationOptions:
    base: dict[str, Any] = {
        "start": START,
        "seed": 11,
        "hospitals": 2,
        "clinics": 2,
        "rate": 600.0,
        "duration_s": 15.0,
        "compression": 480.0,  # two business hours: reports, settlements and refunds happen
        "bad_fraction": 0.05,
        "db_prefix": prefix,
        "paced": False,  # pacing decides when, never what: the ledger is the same
    }
    return SimulationOptions(**{**base, **changes})


def _run(settings: Settings, options: SimulationOptions, ledger: Path) -> dict[str, Any]:
    simulation = Simulation(settings, options, ledger)
    simulation.setup()
    simulation.run()
    return read_ledger(ledger)


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def run(
    settings: Settings, prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    faults = (
        parse_fault("outage:h01@3s+4s"),
        parse_fault("burst:h02@6s,rows=1000,entity=charge"),
        parse_fault("alter:h01@8s,entity=patient"),
        parse_fault("alter:h02@8s,entity=registration"),
    )
    path = tmp_path_factory.mktemp("sim") / "ledger.json"
    ledger = _run(settings, _options(prefix, faults=faults), path)
    yield ledger
    drop_databases(settings, ledger)


def _scalar(settings: Settings, engine: str, database: str, sql: str) -> Any:
    source = open_sources(settings, engine)  # type: ignore[arg-type]
    try:
        return source.query(database, sql)[0][0]
    finally:
        source.close()


def test_ledger_matches_what_the_databases_hold(settings: Settings, run: dict[str, Any]) -> None:
    report = verify_ledger(settings, run)
    assert report.problems == []
    # counts, modified rows and deleted rows per table, schema changes, planted records
    assert report.checks >= 3 * len(run["tables"]) + len(run["bad_records"])


def test_both_engines_got_inserts_updates_and_deletes(run: dict[str, Any]) -> None:
    engine_of = {i["key"]: i["engine"] for i in run["institutions"]}
    for engine in ("postgres", "mariadb"):
        tables = [t for t in run["tables"] if engine_of[t["institution"]] == engine]
        assert sum(t["inserts"] for t in tables) > 1000
        assert sum(t["updates"] for t in tables) > 100
        assert sum(t["deletes"] for t in tables) > 0
        touched = {t["entity"] for t in tables if t["inserts"]}
        assert {
            "patient",
            "registration",
            "diagnosis",
            "order",
            "charge",
            "settlement",
            "lab_report",
            "lab_result",
            "admission",
        } <= touched


def test_every_kind_of_bad_record_was_planted_and_is_in_the_database(
    settings: Settings, run: dict[str, Any]
) -> None:
    assert {b["kind"] for b in run["bad_records"]} == set(BAD_KINDS)
    mariadb = {i["key"] for i in run["institutions"] if i["engine"] == "mariadb"}
    undecodable = [b for b in run["bad_records"] if b["kind"] == "undecodable_text"]
    assert {b["institution"] for b in undecodable} <= mariadb  # only GBK sources carry bytes
    unknown = next(b for b in run["bad_records"] if b["kind"] == "unknown_code")
    inst = next(i for i in run["institutions"] if i["key"] == unknown["institution"])
    key_column = "diagnosis_id" if inst["engine"] == "postgres" else "ZDID"
    code_column = "icd_code" if inst["engine"] == "postgres" else "ZDDM"
    quote = '"' if inst["engine"] == "postgres" else "`"
    code = _scalar(
        settings,
        inst["engine"],
        unknown["database"],
        f"SELECT {code_column} FROM {quote}{unknown['table']}{quote} "
        f"WHERE {key_column} = '{unknown['key']}'",
    )
    assert code not in catalogue.icd10_by_code()


def test_gbk_text_in_mariadb_decodes_as_gbk_and_not_as_utf8(
    settings: Settings, run: dict[str, Any]
) -> None:
    inst = next(i for i in run["institutions"] if i["engine"] == "mariadb")
    source = open_sources(settings, "mariadb")
    try:
        names = [
            row[0]
            for row in source.query(
                inst["databases"]["his"],
                "SELECT CAST(XM AS BINARY) FROM GY_BRXX WHERE XM IS NOT NULL LIMIT 50",
            )
        ]
    finally:
        source.close()
    surnames = set(catalogue.names().surnames)
    assert names and all(raw.decode("gbk")[0] in surnames for raw in names)
    with pytest.raises(UnicodeDecodeError):
        b"".join(names).decode("utf-8")


def test_burst_and_schema_changes_are_in_the_databases(
    settings: Settings, run: dict[str, Any]
) -> None:
    burst = next(f for f in run["faults"] if f["fault"] == "burst")
    assert burst["rows"] == 1000
    inst = next(i for i in run["institutions"] if i["key"] == burst["institution"])
    at = datetime.fromisoformat(burst["at"]).strftime("%Y%m%d%H%M%S")
    touched = _scalar(
        settings,
        "mariadb",
        inst["databases"]["his"],
        f"SELECT count(*) FROM FY_MXXX WHERE XGSJ = '{at}'",
    )
    assert touched >= 1000
    added = {(c["institution"], c["column"]) for c in run["schema_changes"]}
    assert added == {("h01", "wechat_openid"), ("h02", "YYQD")}
    outage = next(f for f in run["faults"] if f["fault"] == "outage")
    h01_minutes = {
        c[4]
        for c in run["counts"]
        if c[0] == "h01" and outage["at"][:16] < c[4] < outage["until"][:16]
    }
    assert h01_minutes == set()  # the institution wrote nothing while it was down


def test_verify_reports_a_database_that_disagrees_with_the_ledger(
    settings: Settings, run: dict[str, Any]
) -> None:
    table = next(
        t for t in run["tables"] if t["institution"] == "h01" and t["entity"] == "diagnosis"
    )
    source = open_sources(settings, "postgres")
    try:
        source.query(
            table["database"],
            "DELETE FROM diagnoses WHERE diagnosis_id IN "
            "(SELECT diagnosis_id FROM diagnoses LIMIT 1) RETURNING diagnosis_id",
        )
    finally:
        source.close()
    problems = verify_ledger(settings, run).problems
    assert any(table["database"] in p and "rows" in p for p in problems)


def test_same_seed_same_ledger_other_seed_other_ledger(settings: Settings, tmp_path: Path) -> None:
    prefix = f"d{uuid.uuid4().hex[:8]}"
    small = {"hospitals": 1, "clinics": 1, "duration_s": 6.0, "rate": 300.0}
    try:
        first = _run(settings, _options(prefix, **small), tmp_path / "a.json")
        second = _run(settings, _options(prefix, **small), tmp_path / "b.json")
        other = _run(settings, _options(prefix, seed=12, **small), tmp_path / "c.json")
    finally:
        drop_databases(settings, read_ledger(tmp_path / "a.json"))
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert first == second
    assert json.dumps(first["counts"]) != json.dumps(other["counts"])
    assert {i["engine"] for i in first["institutions"]} == {"postgres", "mariadb"}


def test_a_paced_run_on_a_manual_clock_writes_what_an_unpaced_run_writes(
    settings: Settings, tmp_path: Path
) -> None:
    """Pacing reads and sleeps through the injected clock: on a manual clock a paced run
    takes its simulated wall time without waiting for it, and writes the same ledger."""
    prefix = f"m{uuid.uuid4().hex[:8]}"
    small = {"hospitals": 1, "clinics": 1, "duration_s": 6.0, "rate": 300.0}
    clock = ManualClock()
    try:
        unpaced = _run(settings, _options(prefix, **small), tmp_path / "unpaced.json")
        simulation = Simulation(
            settings, _options(prefix, paced=True, **small), tmp_path / "paced.json", clock=clock
        )
        simulation.setup()
        report = simulation.run()
    finally:
        drop_databases(settings, read_ledger(tmp_path / "unpaced.json"))
    assert read_ledger(tmp_path / "paced.json") == unpaced
    assert clock.sleeps and max(clock.sleeps) <= 0.05  # short steps toward the next change
    assert report.wall_s == clock.monotonic()  # the run's wall time is the injected clock's
    assert report.wall_s >= 6.0 - 0.05  # … which went through the run's six seconds


def test_a_fault_sent_to_a_running_simulator_is_applied(settings: Settings, tmp_path: Path) -> None:
    prefix = f"f{uuid.uuid4().hex[:8]}"
    control = ControlDirectory(tmp_path / "control")
    options = _options(
        prefix,
        hospitals=0,
        clinics=1,
        rate=100.0,
        duration_s=4.0,
        compression=144.0,
        paced=True,
        bad_fraction=0.0,
    )
    simulation = Simulation(settings, options, tmp_path / "ledger.json", control)
    simulation.setup()
    worker = threading.Thread(target=simulation.run)
    worker.start()
    try:
        time.sleep(1.0)
        control.send(parse_fault("burst:c01,rows=50,entity=patient"))
        worker.join(30)
    finally:
        ledger = read_ledger(tmp_path / "ledger.json")
        drop_databases(settings, ledger)
    assert not worker.is_alive()
    assert [(f["fault"], f["rows"]) for f in ledger["faults"]] == [("burst", 50)]
