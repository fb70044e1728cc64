"""The regional dashboard's queries on a province's data: the 0003 views, 0007, 0009.

Generates, directly in an embedded chDB engine (a temp directory), ``--days`` days of one
province ending today (Asia/Shanghai): 1,751 institutions (338 hospitals, 1,413 clinics,
visits skewed towards the large hospitals, 90 districts), outpatient/emergency/inpatient
encounters on the day's curve, and as extra versions the province's updates (the visit, the
discharge), cancellations, withdrawn registrations and deletes, each version round in its own
parts as the lander writes them over time. Fee lines, lab reports and exams follow the
encounters. Everything is ``INSERT ... SELECT FROM numbers()``: ClickHouse makes the rows.

Then it times every named query of the dashboard's refresh (:data:`REFRESH`) ``--runs``
times, p50 and p99, and the CPU seconds of this process (chDB runs in it: the reliable figure
on a shared machine), three times: on migrations 0001-0006 (the 0003 views: FINAL over
unpartitioned tables; ``--skip-0003`` leaves it out), after 0007 (commit-day partitions, the
recent window; inpatients on hand and the fee lines' encounter types still over the whole
history) and after 0009 (those two from the state tables). Each migration is timed. The
figures of every stage must be identical. It prints the rows per day, the volume reached and
what a month and a year are by linear extrapolation.

    .venv/bin/python bench/dashboard_year.py --days 30            # a month (~58 M encounters)
    .venv/bin/python bench/dashboard_year.py --days 30 --scale 0.02 --runs 5  # quick look

``--scale 1`` is the province: 700 M encounter rows a year = 1.92 M a day (versions included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from streamhub.codes import credit_code
from streamhub.codes.catalogue import regions
from streamhub.land.clickhouse import connect
from streamhub.land.migrations import load_migrations, migrate
from streamhub.land.tables import entity_columns
from streamhub.query import CATALOG, Catalog, DirectQueries
from streamhub.query.dashboard_recent import WINDOW_CHECK, guarded

SHANGHAI = ZoneInfo("Asia/Shanghai")
YEAR_ENCOUNTER_ROWS = 700_000_000
HOSPITALS, CLINICS, DISTRICTS = 338, 1_413, 90
INSTITUTIONS = HOSPITALS + CLINICS
# share of visits by hour of day (Shanghai): the morning peak, a lunch dip, the afternoon
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 1, 2, 5, 14, 15, 13, 9, 3, 5, 9, 8, 6, 4, 3, 3, 2, 2, 1, 1]
# per encounter record: a second version (visit seen / discharged) and a third one
# (cancelled, withdrawn or deleted) with these probabilities (per mille)
SECOND_VERSION, THIRD_VERSION = 300, 50
VERSIONS_PER_RECORD = 1 + SECOND_VERSION / 1000 + THIRD_VERSION / 1000
# per encounter record: fee lines, lab reports, exams (the bench's ratio, not the province's:
# a real visit has several fee lines; the fee query's cost grows with them)
FEES_PER_ENCOUNTER, LAB_PER_MILLE, EXAM_PER_MILLE = 1, 300, 100

# The refresh the dashboard runs every SUMMARY_TTL_S (web/dashboard.py build_day) and the
# freshness poll; "today"/"last_week" are the Shanghai days.
REFRESH = ("dashboard.today", "dashboard.fees", "dashboard.minutes", "dashboard.freshness")
# before 0007 the web app ran these (the 0003 views, kept in the catalog as dashboard.final.*)
FINAL = {
    "dashboard.today": "dashboard.final.today",
    "dashboard.fees": "dashboard.final.fees",
    "dashboard.minutes": "dashboard.final.minutes",
}


def _unit(n: str, salt: int) -> str:
    """A deterministic uniform [0, 1) of row ``n`` (SQL)."""
    return f"(cityHash64({n}, {salt}) % 1000000) / 1000000.0"


def _hour_array() -> str:
    hours = [h for h, w in enumerate(HOUR_WEIGHTS) for _ in range(w)]
    return "[" + ",".join(str(h) for h in hours) + "]"


def _filled(table: str, exprs: dict[str, str]) -> tuple[str, str]:
    """Column list and SELECT list: ``exprs`` where given, the type's default elsewhere."""
    columns = entity_columns(table.removeprefix("std_"))
    select = [
        exprs.get(name, "defaultValueOfTypeName('" + type_.replace("'", "\\'") + "')")
        + f" AS `{name}`"
        for name, type_ in columns.items()
    ]
    return ", ".join(f"`{c}`" for c in columns), ",\n  ".join(select)


class Shape:
    """The generated province: days, records per day, the first day's start (UTC ms)."""

    def __init__(self, days: int, scale: float, now: datetime) -> None:
        self.days = days
        self.per_day = int(YEAR_ENCOUNTER_ROWS / 365 * scale / VERSIONS_PER_RECORD)
        today = now.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
        self.first_day_ms = int((today - timedelta(days=days - 1)).timestamp() * 1000)
        self.now_ms = int(now.timestamp() * 1000)
        # today so far: today's visits keep the day's curve, squeezed into the hours gone
        elapsed_ms = self.now_ms - (self.first_day_ms + (days - 1) * 86_400_000)
        self.today_share = round(max(elapsed_ms - 60_000, 0) / 86_400_000, 6)
        self.records = self.per_day * days

    def encounter_base(self) -> str:
        """One row per encounter record: its institution, type, day and registration time."""
        hours = _hour_array()
        return f"""
SELECT number AS n,
       toUInt32(intDiv(n, {self.per_day})) AS d,
       toUInt32({INSTITUTIONS} * pow({_unit("n", 1)}, 2.2)) AS inst,
       multiIf({_unit("n", 2)} < 0.02, 'inpatient', {_unit("n", 3)} < 0.12, 'emergency',
               'outpatient') AS kind,
       ({hours}[1 + cityHash64(n, 4) % length({hours})] * 3600
        + cityHash64(n, 5) % 3600) * 1000 AS offset_ms,
       {self.first_day_ms} + d * 86400000
         + if(d = {self.days - 1}, toUInt64(offset_ms * {self.today_share}), offset_ms)
         AS reg_ms,
       reg_ms + (60 + cityHash64(n, 7) % 1800) * 1000 AS visit_ms,
       reg_ms + (1 + cityHash64(n, 8) % 14) * 86400000 + cityHash64(n, 9) % 86400000
           AS discharge_ms,
       cityHash64(n, 10) % 1000 AS v2_roll,
       cityHash64(n, 11) % 1000 AS v3_roll
FROM numbers({self.records})
"""  # noqa: S608 - constant SQL built from numbers


def _ms(expr: str) -> str:
    return f"fromUnixTimestamp64Milli(toInt64({expr}), 'UTC')"


def institution_ids() -> list[str]:
    """1,751 valid unified social credit codes, the hospitals first, spread over the
    districts of the packaged region catalogue."""
    codes = [r.code for r in regions()]
    return [
        credit_code.make("1", "2", codes[i % len(codes)], f"{i:08d}") for i in range(INSTITUTIONS)
    ]


_IDS = "[" + ",".join(f"'{i}'" for i in institution_ids()) + "]"


def _institution(expr: str) -> str:
    return f"{_IDS}[{expr} + 1]"


def encounter_round(shape: Shape, version: int) -> str:
    """INSERT of the ``version``-th version (1-3) of the encounter records that have one."""
    has = {
        1: "1",
        2: f"v2_roll < {SECOND_VERSION} AND (kind != 'inpatient' OR discharge_ms < {shape.now_ms})",
        3: f"v3_roll < {THIRD_VERSION}",
    }[version]
    # what the version says: v2 the visit seen / the discharge, v3 a correction of the last
    visit = "NULL" if version == 1 else f"if(kind = 'inpatient', NULL, {_ms('visit_ms')})"
    discharge = (
        "NULL"
        if version == 1
        else f"if(kind = 'inpatient' AND discharge_ms < {shape.now_ms}, "
        f"{_ms('discharge_ms')}, NULL)"
    )
    changed = {
        1: "reg_ms",
        2: "if(kind = 'inpatient', discharge_ms, visit_ms)",
        3: f"least(greatest(reg_ms, if(kind = 'inpatient', least(discharge_ms, {shape.now_ms}), "
        f"visit_ms)) + 1800000, {shape.now_ms})",
    }[version]
    status = {1: "'registered'", 2: "if(kind = 'inpatient', 'discharged', 'visited')"}.get(
        version, "if(v3_roll < 20 AND kind != 'inpatient', 'withdrawn', 'visited')"
    )
    exprs = {
        "record_id": "hex(sipHash128(n))",
        "institution_id": _institution("inst"),
        "source_system": "'his'",
        "source_database": "'his'",
        "source_table": "'registration'",
        "source_key": "toString(n)",
        "operation": "'u'" if version > 1 else "'c'",
        "deleted": "v3_roll >= 35" if version == 3 else "false",
        "source_position": "toString(n)",
        "source_position_seq": f"n * 4 + {version}",
        "business_time": _ms("reg_ms"),
        "commit_time": _ms(f"{changed} + 2000"),
        "received_time": _ms(f"{changed} + 3000"),
        "standardized_time": _ms(f"{changed} + 3500"),
        "cancelled": "v3_roll >= 20 AND v3_roll < 35" if version == 3 else "false",
        "profile": "'bench@1'",
        "encounter_id": "hex(cityHash64(n, 12))",
        "patient_id": "hex(cityHash64(n, 13))",
        "encounter_type": "kind",
        "visit_no": "toString(n)",
        "department_code": "'03'",
        "registered_time": _ms("reg_ms"),
        "visit_time": visit,
        "discharge_time": discharge,
        "status": status,
        "fee": "toDecimal64(5, 2)",
        "_topic": "'std.encounter'",
        "_offset": f"n * 4 + {version}",
        "_landed_time": _ms(f"{changed} + 4000"),
    }
    if version == 3:  # a correction keeps what the second version said, if there was one
        exprs["visit_time"] = (
            f"if(kind = 'inpatient' OR v2_roll >= {SECOND_VERSION}, NULL, {_ms('visit_ms')})"
        )
        exprs["discharge_time"] = (
            f"if(kind = 'inpatient' AND v2_roll < {SECOND_VERSION} AND discharge_ms < "
            f"{shape.now_ms}, {_ms('discharge_ms')}, NULL)"
        )
    columns, select = _filled("std_encounter", exprs)
    return (
        f"INSERT INTO std_encounter ({columns})\nSELECT {select}\n"
        f"FROM ({shape.encounter_base()}) WHERE {has}"
    )


def child_round(shape: Shape, table: str, version: int) -> str:
    """Fee lines, lab reports or exams of the encounters: one version, or a cancelling
    second version for 5 %."""
    per_mille = {"std_charge": 1000 * FEES_PER_ENCOUNTER, "std_lab_report": LAB_PER_MILLE}.get(
        table, EXAM_PER_MILLE
    )
    at = {"std_charge": "visit_ms + 600000", "std_lab_report": "reg_ms + 7200000"}.get(
        table, "reg_ms + 10800000"
    )
    at = f"least({at}, {shape.now_ms} - 1000)"
    exprs: dict[str, str] = {
        "record_id": f"hex(sipHash128(n, '{table}'))",
        "institution_id": _institution("inst"),
        "source_system": "'his'",
        "source_database": "'his'",
        "source_table": f"'{table}'",
        "source_key": "toString(n)",
        "operation": "'u'" if version > 1 else "'c'",
        "deleted": "false",
        "source_position": "toString(n)",
        "source_position_seq": f"n * 4 + {version}",
        "business_time": _ms(at),
        "commit_time": _ms(f"{at} + {2000 + (version - 1) * 600000}"),
        "received_time": _ms(f"{at} + 3000"),
        "standardized_time": _ms(f"{at} + 3500"),
        "cancelled": "true" if version == 2 else "false",
        "profile": "'bench@1'",
        "patient_id": "hex(cityHash64(n, 13))",
        "encounter_id": "hex(cityHash64(n, 12))",
        "_topic": f"'std.{table.removeprefix('std_')}'",
        "_offset": f"n * 4 + {version}",
        "_landed_time": _ms(f"{at} + {4000 + (version - 1) * 600000}"),
    }
    if table == "std_charge":
        exprs |= {
            "charge_kind": "'fee'",
            "is_drug": f"{_unit('n', 20)} < 0.4",
            "amount": "toDecimal64(5 + cityHash64(n, 21) % 50000 / 100, 2)",
            "charged_time": _ms(at),
            "category": "'drug'",
        }
    else:
        exprs |= {"reported_time": _ms(at), "status": "'reported'"}
    keep = f"cityHash64(n, 30) % 1000 < {per_mille}"
    if version == 2:
        keep += " AND cityHash64(n, 31) % 1000 < 50"
    columns, select = _filled(table, exprs)
    return (
        f"INSERT INTO {table} ({columns})\nSELECT {select}\n"
        f"FROM ({shape.encounter_base()}) WHERE {keep}"
    )


def generation(shape: Shape) -> list[tuple[str, str]]:
    """(label, INSERT) of every version round of every table, in landing order."""
    rounds = [(f"std_encounter version {v}", encounter_round(shape, v)) for v in (1, 2, 3)]
    for table in ("std_charge", "std_lab_report", "std_exam"):
        rounds += [(f"{table} version {v}", child_round(shape, table, v)) for v in (1, 2)]
    return rounds


def generate(client: Client, shape: Shape) -> None:
    for label, sql in generation(shape):
        _timed(label, lambda sql=sql: client.command(sql))  # type: ignore[misc]


def _timed(label: str, action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = action()
    print(f"  {label:<28} {time.perf_counter() - started:7.1f} s", flush=True)
    return value


def table_rows(client: Client, tables: tuple[str, ...] | None = None) -> dict[str, int]:
    """Rows stored (active parts) of the std_* tables, or of ``tables``."""
    which = "table LIKE 'std_%'" if tables is None else "table IN {tables:Array(String)}"
    sql = "SELECT table, sum(rows) FROM system.parts WHERE database = currentDatabase() "
    sql += f"AND active AND {which} GROUP BY table"
    params = None if tables is None else {"tables": list(tables)}
    rows = client.query(sql, parameters=params).result_rows
    return {str(t): int(n) for t, n in rows}


def _days() -> dict[str, Any]:
    today = datetime.now(SHANGHAI).date()
    return {"today": today, "last_week": today - timedelta(days=7)}


def parameters(name: str) -> dict[str, Any] | None:
    if name.endswith(".window_check"):
        return {"last_week": _days()["last_week"]}
    return _days() if name.endswith(".minutes") else None


def _canonical(row: dict[str, Any]) -> str:
    """A row as text; the minute arrays of dashboard.minutes (groupArray: any order) sorted."""
    if "minutes" in row:
        order = sorted(range(len(row["minutes"])), key=lambda i: row["minutes"][i])
        row = {k: [v[i] for i in order] if isinstance(v, list) else v for k, v in row.items()}
    return json.dumps(row, sort_keys=True, default=str)


def catalog_0007() -> Catalog:
    """The dashboard's queries as migration 0007 left them (the whole-history parts over
    std_encounter), under their usual names."""
    final = [CATALOG.get(name) for name in FINAL.values()]
    return Catalog([*guarded(final, state=False), CATALOG.get("dashboard.freshness"), WINDOW_CHECK])


def _part(source: DirectQueries, label: str, sql: str) -> None:
    started, cpu_started = time.perf_counter(), time.process_time()
    source.client.query(sql)
    print(
        f"  {label}: {time.perf_counter() - started:.2f} s wall, "
        f"{time.process_time() - cpu_started:.2f} CPU s"
    )


LANDED_AGAIN = 20_000


def land_again(client: Client, stage: str) -> None:
    """What the materialized views of 0009 add to the lander: CPU seconds of one insert of
    :data:`LANDED_AGAIN` encounter versions (the newest ones, landed again as an
    at-least-once redelivery would: the figures must not change), read beforehand."""
    newest = f"SELECT * FROM std_encounter ORDER BY commit_time DESC LIMIT {LANDED_AGAIN}"  # noqa: S608
    client.command(f"CREATE TABLE landed_again ENGINE = Memory AS {newest}")
    started = time.process_time()
    client.command("INSERT INTO std_encounter SELECT * FROM landed_again")
    print(
        f"  {stage}: landing {LANDED_AGAIN:,} encounter versions again: "
        f"{time.process_time() - started:.3f} CPU s (one insert and its views)"
    )
    client.command("DROP TABLE landed_again")


def measure(
    source: DirectQueries, runs: int, stage: str
) -> tuple[dict[str, list[float]], dict[str, Any], float]:
    """Seconds per run of each refresh query, the last answers (sorted rows) and the CPU
    seconds of one summary refresh: ``stage`` "0003" runs the 0003-view queries
    (dashboard.final.*), "0007" and "0009" the web app's (``source``'s catalog decides)."""
    recent = stage != "0003"
    names = [*REFRESH, "dashboard.window_check"] if recent else list(REFRESH)
    timings: dict[str, list[float]] = {name: [] for name in names}
    answers: dict[str, Any] = {}
    cpu: dict[str, float] = dict.fromkeys(names, 0.0)
    for _ in range(runs):
        for name in names:
            started, cpu_started = time.perf_counter(), time.process_time()
            rows = source.run(name if recent else FINAL.get(name, name), parameters(name))
            timings[name].append(time.perf_counter() - started)
            cpu[name] += time.process_time() - cpu_started
            answers[name] = sorted(_canonical(r) for r in rows)
    summary = [n for n in names if n != "dashboard.freshness"]
    refresh_cpu = sum(cpu[n] for n in summary) / runs
    if runs > 1:
        print(
            f"  {stage} CPU s per run (this process, all chDB threads): "
            + ", ".join(f"{n} {c / runs:.2f}" for n, c in cpu.items())
            + f"; summary refresh {refresh_cpu:.2f}"
        )
        if stage == "0009":
            _part(
                source, "inpatient_state FINAL (0009)", "SELECT count() FROM inpatient_state FINAL"
            )
        else:
            _part(
                source, "v_inpatients_on_hand (whole history)", "SELECT * FROM v_inpatients_on_hand"
            )
    return timings, answers, refresh_cpu


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def report(label: str, timings: dict[str, list[float]]) -> None:
    parts = [
        *REFRESH[:3],
        *(["dashboard.window_check"] if "dashboard.window_check" in timings else []),
    ]
    refresh = [sum(t) for t in zip(*(timings[n] for n in parts), strict=True)]
    for name, values in [*timings.items(), ("summary refresh", refresh)]:
        print(
            f"  {label:<6} {name:<28} p50 {statistics.median(values) * 1000:8.0f} ms"
            f"   p99 {p99(values) * 1000:8.0f} ms   ({len(values)} runs)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days of data ending today")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = the province's volume")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--skip-0003", action="store_true", help="do not time the 0003 views")
    parser.add_argument("--path", help="keep the chDB directory here (default: a temp dir)")
    args = parser.parse_args()
    shape = Shape(args.days, args.scale, datetime.now(UTC))
    with tempfile.TemporaryDirectory(prefix="bench-dash-", dir=None) as tmp:
        path = args.path or tmp
        client = connect(f"chdb://{path}", "bench", create=True)
        migrations = load_migrations()
        migrate(client, [m for m in migrations if m.version < 7])
        print(f"generating {args.days} days x {shape.per_day:,} encounter records a day")
        started = time.perf_counter()
        generate(client, shape)
        rows = table_rows(client)
        print(f"generated in {time.perf_counter() - started:.0f} s: {rows}")
        stages: dict[str, tuple[dict[str, list[float]], dict[str, Any], float]] = {}
        if not args.skip_0003:
            source = DirectQueries(client)
            measure(source, 1, "0003")  # warm
            stages["0003"] = measure(source, args.runs, "0003")
            report("0003", stages["0003"][0])
        _timed(
            "migrations 0007-0008 (0007 rebuilds 4 tables)",
            lambda: migrate(client, [m for m in migrations if m.version < 9]),
        )
        source = DirectQueries(client, catalog_0007())
        measure(source, 1, "0007")  # warm
        stages["0007"] = measure(source, args.runs, "0007")
        report("0007", stages["0007"][0])
        land_again(client, "0007")
        _timed("migration 0009 (state tables, backfill)", lambda: migrate(client))
        print(f"  state tables: {table_rows(client, ('inpatient_state', 'encounter_kind'))}")
        source = DirectQueries(client)
        measure(source, 1, "0009")  # warm
        stages["0009"] = measure(source, args.runs, "0009")
        report("0009", stages["0009"][0])
        print(f"  window check: {stages['0009'][1]['dashboard.window_check']}")
        land_again(client, "0009")
        last = stages["0009"][1]
        stages["0009 after landing again"] = measure(source, 1, "0009")
        for stage, (_t, answers, _c) in stages.items():
            for name in REFRESH if stage != "0009" else ():
                same = "same" if answers[name] == last[name] else "DIFFERENT"
                print(f"  {stage} {name:<24} answers {same} as 0009 ({len(last[name])} rows)")
        encounters = rows.get("std_encounter", 0)
        month = YEAR_ENCOUNTER_ROWS * 30 / 365 / max(encounters, 1)
        year = YEAR_ENCOUNTER_ROWS / max(encounters, 1)
        print(
            f"volume: {encounters:,} encounter rows = {encounters / YEAR_ENCOUNTER_ROWS:.2%} of "
            f"a year; x{month:.1f} to a month at full scale, x{year:.1f} to a year"
        )
        for stage, (_t, _a, cpu) in list(stages.items())[:-1]:
            print(
                f"  summary refresh CPU s ({stage}): {cpu:.3f} here; linear in rows: "
                f"~{cpu * month:.1f} a month, ~{cpu * year:.1f} a year"
            )


if __name__ == "__main__":
    main()
