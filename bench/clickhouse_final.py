"""FINAL against argMax/GROUP BY for the dashboard's encounter query, in embedded chDB.

Inserts ``--records`` encounters with 1–4 versions each (a cancellation or a delete as some
last versions), one insert per version round so a record's versions sit in different parts,
as they do when the lander lands them over time. Then times, ``--runs`` times each, the
visits/admissions/discharges-per-minute-today query plus inpatients on hand written two ways:
over ``std_encounter FINAL`` and over an argMax(tuple, version) GROUP BY. Both must return the
same rows; the ratio decides which formulation the dashboard views use.

    .venv/bin/python bench/clickhouse_final.py --records 600000
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from streamhub.land.clickhouse import connect
from streamhub.land.migrations import migrate
from streamhub.land.tables import entity_columns

EVENTS = """
    arrayFilter(x -> isNotNull(x.2), [
        ('visit', if(encounter_type IN ('outpatient', 'emergency'),
                     coalesce(visit_time, registered_time), NULL)),
        ('admission', if(encounter_type = 'inpatient', registered_time, NULL)),
        ('discharge', if(encounter_type = 'inpatient', discharge_time, NULL))])
"""
BY_MINUTE = f"""
SELECT institution_id, toStartOfMinute(toTimeZone(assumeNotNull(ev.2), 'Asia/Shanghai')) AS m,
       countIf(ev.1 = 'visit'), countIf(ev.1 = 'admission'), countIf(ev.1 = 'discharge')
FROM ({{current}}) ARRAY JOIN {EVENTS} AS ev
WHERE NOT cancelled AND coalesce(status, '') != 'withdrawn'
  AND toDate(assumeNotNull(ev.2), 'Asia/Shanghai') = toDate(now(), 'Asia/Shanghai')
GROUP BY institution_id, m ORDER BY institution_id, m
"""  # noqa: S608 - constant SQL; {current} becomes one of the two constant subqueries below
ON_HAND = """
SELECT institution_id, count() FROM ({current})
WHERE encounter_type = 'inpatient' AND NOT cancelled AND discharge_time IS NULL
GROUP BY institution_id ORDER BY institution_id
"""
FINAL = """
SELECT institution_id, record_id, encounter_type, registered_time, visit_time, discharge_time,
       status, cancelled FROM std_encounter FINAL
"""
ARGMAX = """
SELECT institution_id, record_id, s.1 AS encounter_type, s.2 AS registered_time,
       s.3 AS visit_time, s.4 AS discharge_time, s.5 AS status, s.6 AS cancelled
FROM (SELECT institution_id, record_id,
             argMax((encounter_type, registered_time, visit_time, discharge_time, status,
                     cancelled, deleted), source_position_seq) AS s
      FROM std_encounter GROUP BY institution_id, record_id)
WHERE NOT s.7
"""


def encounter_versions(records: int, seed: int) -> list[list[dict[str, Any]]]:
    """Rounds of rows: round k holds the k-th version of every record that has one."""
    rng = random.Random(seed)  # noqa: S311 - seeded for reproducible data, not security
    now = datetime.now(UTC).replace(microsecond=0)
    rounds: list[list[dict[str, Any]]] = [[], [], [], []]
    for n in range(records):
        kind = rng.choices(["outpatient", "emergency", "inpatient"], [70, 15, 15])[0]
        start = now - timedelta(seconds=rng.randrange(3 * 86400))
        base = {
            "record_id": f"r{n:09d}",
            "institution_id": f"1235020015498973{n % 40:02d}",
            "encounter_type": kind,
            "registered_time": start,
            "visit_time": None,
            "discharge_time": None,
            "status": "active",
            "cancelled": False,
            "deleted": False,
        }
        for version in range(rng.randint(1, 4)):
            row = dict(base, source_position_seq=n * 10 + version)
            if kind != "inpatient" and version >= 1:
                row["visit_time"] = start + timedelta(minutes=version * 7)
            if kind == "inpatient" and version >= 2:
                row["discharge_time"] = start + timedelta(days=2)
            roll = rng.random()
            row["cancelled"] = roll < 0.05
            row["deleted"] = 0.05 <= roll < 0.08
            rounds[version].append(row)
    return rounds


def insert_encounters(client: Any, rows: list[dict[str, Any]]) -> None:
    columns = entity_columns("encounter")
    now = datetime.now(UTC)
    filler: dict[str, Any] = {
        "source_system": "his",
        "source_database": "his",
        "source_table": "registration",
        "source_key": "{}",
        "operation": "u",
        "source_position": "0/0",
        "business_time": None,
        "commit_time": now,
        "received_time": now,
        "standardized_time": now,
        "quality_issues": [],
        "profile": "bench@1",
        "fee": Decimal("5.00"),
        "_topic": "std.encounter",
        "_partition": 0,
        "_offset": 0,
        "_landed_time": now,
    }
    data = [[row.get(name, filler.get(name)) for row in rows] for name in columns]
    client.insert("std_encounter", data, column_names=list(columns), column_oriented=True)


def load_encounters(client: Any, records: int, seed: int) -> None:
    """Migrate, then insert every version round of ``records`` encounters; say how long."""
    migrate(client)
    started = time.perf_counter()
    total = 0
    for rows in encounter_versions(records, seed):
        for chunk in range(0, len(rows), 200_000):
            insert_encounters(client, rows[chunk : chunk + 200_000])
        total += len(rows)
    print(
        f"inserted {total:,} versions of {records:,} encounters "
        f"in {time.perf_counter() - started:.1f}s"
    )


def _time(client: Any, sql: str, runs: int) -> tuple[float, list[Any]]:
    timings, rows = [], []
    for _ in range(runs):
        started = time.perf_counter()
        rows = client.query(sql).result_rows
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-chdb-") as path:
        client = connect(f"chdb://{path}", "bench", create=True)
        load_encounters(client, args.records, args.seed)
        parts = client.query(
            "SELECT count() FROM system.parts WHERE database = 'bench' AND active "
            "AND table = 'std_encounter'"
        ).result_rows[0][0]
        print(f"active parts: {parts}")
        for label, template in (("per-minute today", BY_MINUTE), ("on hand", ON_HAND)):
            final_s, final_rows = _time(client, template.format(current=FINAL), args.runs)
            argmax_s, argmax_rows = _time(client, template.format(current=ARGMAX), args.runs)
            same = "same rows" if final_rows == argmax_rows else "ROWS DIFFER"
            print(
                f"{label:<17} FINAL {final_s * 1000:7.0f} ms   argMax {argmax_s * 1000:7.0f} ms"
                f"   FINAL/argMax = {final_s / argmax_s:4.2f}   ({len(final_rows)} rows, {same})"
            )


if __name__ == "__main__":
    main()
