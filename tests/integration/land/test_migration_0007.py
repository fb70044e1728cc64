"""Migration 0007 on a database with data, and the recent-window dashboard queries.

The data is bench/dashboard_year.py's province shape at a tiny scale: encounters with a
second version (visit seen, discharge days later, in another commit-day partition) and a
third (cancelled, withdrawn, deleted), fee lines with refunds, lab reports and exams.
"""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from streamhub.land.clickhouse import connect
from streamhub.land.migrations import load_migrations, migrate
from streamhub.query import DirectQueries

TABLES = ("std_encounter", "std_charge", "std_lab_report", "std_exam")
PAIRS = {  # the 0003 views → what the web app runs since 0007
    "dashboard.final.today": "dashboard.today",
    "dashboard.final.fees": "dashboard.fees",
    "dashboard.final.minutes": "dashboard.minutes",
}


def _bench() -> ModuleType:
    path = Path(__file__).parents[3] / "bench" / "dashboard_year.py"
    spec = importlib.util.spec_from_file_location("dashboard_year", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _days() -> dict[str, Any]:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return {"today": today, "last_week": today - timedelta(days=7)}


def _answers(source: DirectQueries, bench: ModuleType, names: list[str]) -> list[list[str]]:
    out = []
    for name in names:
        params = _days() if name.endswith(".minutes") else None
        out.append(sorted(bench._canonical(r) for r in source.run(name, params)))
    return out


def _load(dsn: str, database: str) -> tuple[Client, ModuleType]:
    client = connect(dsn, database, create=True)
    migrate(client, [m for m in load_migrations() if m.version < 7])
    bench = _bench()
    shape = bench.Shape(12, 0.0006, datetime.now(UTC))
    for _label, sql in bench.generation(shape):
        client.command(sql)
    return client, bench


def test_0007_rebuilds_with_the_data_and_recent_queries_give_the_same_figures(
    dsn: str, database: str
) -> None:
    client, bench = _load(dsn, database)
    try:
        source = DirectQueries(client)
        before_rows = {
            t: client.query(f"SELECT count() FROM {t}").result_rows[0][0] for t in TABLES
        }
        # versions were superseded: a count of versions is not a count of records
        final = client.query("SELECT count() FROM std_encounter FINAL").result_rows[0][0]
        assert before_rows["std_encounter"] > final * 1.2
        old = _answers(source, bench, list(PAIRS))
        assert all(old), "the generated days hold figures for today and last week"

        result = migrate(client)
        # 0007 and the migrations after it (0009's state tables back the recent queries)
        assert [m.version for m in result.applied] == [
            m.version for m in load_migrations() if m.version >= 7
        ]
        for table in TABLES:
            key = client.query(
                "SELECT partition_key FROM system.tables WHERE database = currentDatabase() "
                "AND name = {t:String}",
                parameters={"t": table},
            ).result_rows[0][0]
            assert key == "toYYYYMMDD(commit_time)"
            count = client.query(f"SELECT count() FROM {table}").result_rows[0][0]
            assert count <= before_rows[table]  # merges may have collapsed copies, never more
        assert client.query("SELECT count() FROM std_encounter FINAL").result_rows[0][0] == final
        leftovers = client.query(
            "SELECT count() FROM system.tables WHERE database = currentDatabase() "
            "AND name LIKE '%\\_0006'"
        ).result_rows[0][0]
        assert leftovers == 0

        # the 0003 views still give the figures, and the recent queries give the same
        assert _answers(source, bench, list(PAIRS)) == old
        assert _answers(source, bench, list(PAIRS.values())) == old
        check = source.run("dashboard.window_check", {"last_week": _days()["last_week"]})
        assert check == [{"early_today": 0, "early_last_week": 0}]

        # independent FINAL computation of today's visits (catalog check.*) agrees
        totals = source.run("check.encounters_of_day", {"day": _days()["today"]})[0]
        today = source.run("dashboard.today")
        assert sum(int(r["visits"]) for r in today) == int(totals["visits"])
        assert sum(int(r["discharges"]) for r in today) == int(totals["discharges"])
        assert sum(int(r["inpatients_on_hand"]) for r in today) == int(totals["inpatients_on_hand"])
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{database}`")
        client.close()


def test_a_superseded_version_counts_once_and_an_early_version_is_flagged(
    dsn: str, database: str
) -> None:
    client, bench = _load(dsn, database)
    try:
        migrate(client)
        source = DirectQueries(client)
        visits = sum(int(r["visits"]) for r in source.run("dashboard.today"))
        # a new version of an encounter seen today: same record, a higher position, later
        # commit; it must replace its earlier version, not add to it
        row = client.query(
            "SELECT record_id, source_position_seq FROM std_encounter FINAL "
            "WHERE encounter_type = 'outpatient' AND NOT cancelled "
            "AND toDate(coalesce(visit_time, registered_time), 'Asia/Shanghai') = "
            "toDate(now(), 'Asia/Shanghai') LIMIT 1"
        ).result_rows[0]
        client.command(
            "INSERT INTO std_encounter SELECT * REPLACE (source_position_seq + 100 AS "
            "source_position_seq, commit_time + INTERVAL 1 SECOND AS commit_time) "
            f"FROM std_encounter FINAL WHERE record_id = '{row[0]}'"
        )
        assert sum(int(r["visits"]) for r in source.run("dashboard.today")) == visits
        # ... and a cancelling version removes it
        client.command(
            "INSERT INTO std_encounter SELECT * REPLACE (source_position_seq + 200 AS "
            "source_position_seq, true AS cancelled, commit_time + INTERVAL 2 SECOND AS "
            f"commit_time) FROM std_encounter FINAL WHERE record_id = '{row[0]}'"
        )
        assert sum(int(r["visits"]) for r in source.run("dashboard.today")) == visits - 1
        old = _answers(source, bench, list(PAIRS))
        assert _answers(source, bench, list(PAIRS.values())) == old

        # a version committed weeks ago with a visit today: the window could miss its record
        client.command(
            "INSERT INTO std_encounter SELECT * REPLACE (concat(record_id, 'x') AS record_id, "
            "now64(3) - INTERVAL 20 DAY AS commit_time, now64(3) AS registered_time, "
            "false AS cancelled) "
            f"FROM (SELECT * FROM std_encounter FINAL WHERE record_id = '{row[0]}')"
        )
        check = source.run("dashboard.window_check", {"last_week": _days()["last_week"]})
        assert check == [{"early_today": 1, "early_last_week": 1}]
        # ... and the figures fall back to the 0003 views, which count it
        assert _answers(source, bench, list(PAIRS.values())) == _answers(source, bench, list(PAIRS))
        assert sum(int(r["visits"]) for r in source.run("dashboard.today")) == visits
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{database}`")
        client.close()


def test_0007_statements_run_again_keep_the_data(dsn: str, database: str) -> None:
    """A run cut short is finished by the next: every statement of 0007 can run twice."""
    client, _bench_module = _load(dsn, database)
    try:
        migrate(client)
        counts = json.dumps(
            [client.query(f"SELECT count() FROM {t} FINAL").result_rows[0][0] for t in TABLES]
        )
        (seventh,) = [m for m in load_migrations() if m.version == 7]
        for statement in seventh.statements():
            client.command(statement)
        again = json.dumps(
            [client.query(f"SELECT count() FROM {t} FINAL").result_rows[0][0] for t in TABLES]
        )
        assert again == counts
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{database}`")
        client.close()
