"""Primary-key updates end to end on both engines (issue 15, item 1).

Two simulated hospitals (h01: PostgreSQL, english_pg; h02: MariaDB, pinyin_gbk) with their
warm-up rows, captured in chunks of 50. Right after capture starts (the snapshot most
likely still paging; the deterministic chunk case is in ../capture/test_key_updates.py), each gets
a key update of a registration already in the table and, in one transaction, another
registration's key updated, a third's non-key column updated and a new registration
inserted. After capture -> standardize -> land, ClickHouse's live rows equal the
standardized form of the sources' rows (no old key left live), and every window of the
two registrations tables reconciles as MATCH, the source counting each key update as a
delete and an insert. (Other tables' windows are not judged here: they carry no key update.)
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

from streamhub.config import Settings
from streamhub.reconcile.result import Result, Status
from streamhub.simulate.institutions import Institution
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.sources import open_sources
from streamhub.stack.mariadb import MariaDB
from streamhub.stack.postgres import Postgres

from ..capture.helpers import wait_until
from ..capture.helpers import write_connector_files as write_connectors
from ..reconcile.helpers import ReconcilePipeline
from .harness import capture_caught_up, source_final_state
from .test_end_to_end import START, assert_final_state_exact, captured

REKEYED = {"public.registrations", "MZ_GHXX"}  # the tables whose keys the test updates
KEY_SHIFT = 10_000_000  # new keys above every simulated one
CHANGES_PER_SOURCE = 2 + (2 + 1 + 1)  # key update; then key update, update, insert


def _rekey(settings: Settings, simulation: Simulation, inst: Institution, prefix: str) -> None:
    """The key updates of one institution's registrations table, in its own engine."""
    spec = simulation.dialects[inst.dialect].tables["registration"]
    key = spec.primary_key
    name = next(c for c, col in spec.columns.items() if col.field == "department_name")
    database = inst.database(prefix, spec.system)
    if inst.engine == "postgres":
        conn: Any = Postgres(settings).connect(database)
        q = '"'
    else:
        conn = MariaDB(settings).connect()
        conn.select_db(database)
        q = "`"
    t, k = f"{q}{spec.name}{q}", f"{q}{key}{q}"
    with contextlib.closing(conn):
        cur = conn.cursor()
        cur.execute(f"SELECT {k} FROM {t} ORDER BY {k} LIMIT 3")
        a, b, c = (row[0] for row in cur.fetchall())

        def moved(tag: str) -> str:  # the key, moved out of the simulator's range
            return (
                f"{k} + {KEY_SHIFT * len(tag)}" if isinstance(a, int) else f"CONCAT('{tag}', {k})"
            )

        cur.execute(f"UPDATE {t} SET {k} = {moved('Y')} WHERE {k} = %s", (a,))
        conn.commit()
        # one transaction: B's key changes, C changes in place, a copy of C is inserted
        cur.execute(f"UPDATE {t} SET {k} = {moved('Y')} WHERE {k} = %s", (b,))
        cur.execute(f"UPDATE {t} SET {q}{name}{q} = 'KEYTEST' WHERE {k} = %s", (c,))
        cur.execute(f"SELECT * FROM {t} WHERE {k} = %s", (c,))
        columns = [d[0] for d in cur.description]
        cur.fetchall()
        listed = ", ".join(f"{q}{col}{q}" for col in columns)
        picked = ", ".join(moved("ZZ") if col == key else f"{q}{col}{q}" for col in columns)
        cur.execute(f"INSERT INTO {t} ({listed}) SELECT {picked} FROM {t} WHERE {k} = %s", (c,))
        conn.commit()


def test_key_updates_land_exactly_and_reconcile_on_both_engines(
    capture_settings: Settings, tmp_path: Path
) -> None:
    settings = capture_settings
    prefix = f"ku{uuid.uuid4().hex[:6]}"
    options = SimulationOptions(
        start=START, seed=15, hospitals=2, clinics=0, rate=100.0, duration_s=5.0,
        compression=360.0, db_prefix=prefix,
    )  # fmt: skip
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    connectors_dir = tmp_path / "connectors"
    connectors_dir.mkdir()
    pipeline = ReconcilePipeline(
        settings, tmp_path, connectors_dir, uuid.uuid4().hex[:8],
        reconcile_args=["--grace", "15s", "--retention", "15m", "--judge-every", "2"],
    )  # fmt: skip
    try:
        simulation.setup()  # the warm-up rows: what the snapshot reads
        connectors = write_connectors(
            settings, simulation, connectors_dir, row_count_s=600,
            snapshot={"mode": "initial", "chunk_rows": 50},
        )  # fmt: skip
        registrations = sum(
            r.qualified in REKEYED for r in source_final_state(settings, connectors)
        )
        pipeline.pin_groups_to_end()
        migrated = pipeline.streamhub("clickhouse", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        for worker in ("standardize", "land", "reconcile"):
            pipeline.start(worker)
        hospitals = [i for i in simulation.institutions if "registration" in
                     simulation.dialects[i.dialect].tables]  # fmt: skip
        assert {i.engine for i in hospitals} == {"postgres", "mariadb"}
        with captured(settings, connectors):
            for inst in hospitals:  # most likely while the snapshot still pages
                _rekey(settings, simulation, inst, prefix)
            assert capture_caught_up(pipeline, connectors, 180) == []
            assert pipeline.wait_drained(240), (
                f"lag {pipeline.lag()}\n{pipeline.log_tail('standardize')}\n"
                f"{pipeline.log_tail('land')}"
            )
            changes = registrations + CHANGES_PER_SOURCE * len(hospitals)
            results = _wait_matched(pipeline, prefix, changes)
        pipeline.stop_all()
        assert_final_state_exact(settings, pipeline, connectors, prefix)
    finally:
        pipeline.stop_all()
        _drop(settings, simulation, prefix)

    assert sum(r.source_changes for r in results) >= changes
    for r in results:
        assert r.status == Status.MATCH, r
        assert r.landed == r.source_changes, r


def _wait_matched(pipeline: ReconcilePipeline, prefix: str, changes: int) -> list[Result]:
    """Every window MATCH, at least ``changes`` counted, and the same twice in a row. (A row
    changed before its chunk is read is counted again as that chunk's read: the snapshot's
    total is not known in advance.)"""
    latest: list[Result] = []
    seen: list[int] = []

    def matched() -> bool:
        latest[:] = [r for r in pipeline.results(prefix) if r.table in REKEYED]
        total = sum(r.source_changes for r in latest)
        seen.append(total)
        done = total >= changes and all(r.status == Status.MATCH for r in latest)
        return done and len(seen) > 1 and seen[-2] == total

    assert wait_until(matched, 180, every_s=3), (
        changes,
        seen[-3:],
        [r for r in latest if r.status != Status.MATCH][:10],
    )
    return latest


def _drop(settings: Settings, simulation: Simulation, prefix: str) -> None:
    """Drop the databases ``setup`` created (no run, so no ledger names them)."""
    for inst in simulation.institutions:
        source = open_sources(settings, inst.engine)
        try:
            for system in inst.systems:
                source.drop(inst.database(prefix, system))
        finally:
            source.close()
