"""`reconcile show`: the highest revision per window wins; totals over every status."""

from __future__ import annotations

import json
from dataclasses import replace

from streamhub.reconcile.report import Selection, as_json, row, select
from streamhub.reconcile.result import Result, Status
from streamhub.reconcile.times import local_minute, parse_duration_ms, parse_local_ms
from streamhub.reconcile.totals import latest_per_window
from tests.unit.reconcile.helpers import INST, MINUTE, T0


def result(
    start: int = T0,
    *,
    status: Status = Status.MATCH,
    revision: int = 0,
    difference: int = 0,
    institution: str = INST,
    table: str = "public.patient",
    repaired: int = 0,
) -> Result:
    return Result(
        institution_id=institution,
        system="his",
        database="hisdb",
        table=table,
        window_start_ms=start,
        window_end_ms=start + MINUTE,
        source_changes=5,
        standardized=0,
        dead_lettered=1,
        landed=4 + difference,
        status=status,
        difference=difference,
        detail=None,
        checked_ts_ms=start + 200_000 + revision,
        revision=revision,
        repaired=repaired,
    )


def test_the_highest_revision_wins_whatever_the_order_read() -> None:
    missing = result(status=Status.MISSING, difference=-2, revision=0)
    repaired = result(status=Status.MATCH, revision=1, repaired=2)
    other = result(T0 + MINUTE)
    assert latest_per_window([repaired, other, missing]) == [repaired, other]
    assert latest_per_window([missing, repaired, missing]) == [repaired]


def test_status_filter_hides_rows_but_totals_count_every_window() -> None:
    results = [
        result(status=Status.MISSING, difference=-2),
        result(T0 + MINUTE),
        result(T0 + 2 * MINUTE, status=Status.MISSING, difference=-1, revision=0),
        result(T0 + 2 * MINUTE, status=Status.LATE, revision=1),  # later: no longer missing
        result(institution="OTHER"),
    ]
    rows, totals = select(results, Selection(INST, T0, Status.MISSING))
    assert [(r.window_start_ms, r.difference) for r in rows] == [(T0, -2)]
    [total] = totals
    assert total.windows == 3 and total.difference == -2
    assert total.statuses == {Status.MISSING: 1, Status.MATCH: 1, Status.LATE: 1}


def test_since_excludes_older_windows() -> None:
    rows, _ = select([result(), result(T0 + MINUTE)], Selection(INST, T0 + 1))
    assert [r.window_start_ms for r in rows] == [T0 + MINUTE]


def test_rows_print_shanghai_time_and_the_full_table_name() -> None:
    cells = row(result(status=Status.MATCH, repaired=2))
    assert cells[0] == local_minute(T0)
    assert cells[1] == "hisdb.public.patient"
    assert cells[6:8] == ["2", "MATCH"]
    lines = as_json([result()], []).splitlines()
    assert json.loads(lines[0])["repaired"] == 0


def test_operator_times_are_shanghai_unless_an_offset_is_given() -> None:
    assert parse_local_ms("2026-11-25T08:01") == parse_local_ms("2026-11-25T00:01+00:00")
    assert local_minute(parse_local_ms("2026-11-25T08:01")) == "2026-11-25T08:01"
    assert parse_duration_ms("30m") == 1_800_000 and parse_duration_ms("20s") == 20_000


def test_a_result_from_an_older_writer_reads_with_defaults() -> None:
    value = result().to_avro()
    for name in ("database", "duplicates", "revision", "repaired"):
        value.pop(name)
    old = Result.from_avro(value)
    assert (old.database, old.revision, old.repaired) == ("", 0, 0)
    assert replace(old, database="hisdb") == result()
