"""Daily totals per institution by Asia/Shanghai day."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from streamhub.reconcile.result import Result, Status
from streamhub.reconcile.totals import daily_totals, shanghai_day
from tests.unit.reconcile.helpers import INST, MINUTE


def _ms(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def _result(start: int, source: int, landed: int, status: Status, revision: int = 0) -> Result:
    return Result(
        INST,
        "his",
        "hisdb",
        "public.patient",
        start,
        start + MINUTE,
        source,
        landed,
        0,
        landed,
        status,
        landed - source,
        None,
        start + 3 * MINUTE,
        0,
        revision,
    )


def test_the_shanghai_day_starts_at_16_utc() -> None:
    assert shanghai_day(_ms(2024, 3, 1, 15, 59)) == date(2024, 3, 1)
    assert shanghai_day(_ms(2024, 3, 1, 16, 0)) == date(2024, 3, 2)


def test_totals_split_at_shanghai_midnight() -> None:
    before, after = _ms(2024, 3, 1, 15, 59), _ms(2024, 3, 1, 16, 0)
    first, second = daily_totals(
        [
            _result(before, 5, 5, Status.MATCH),
            _result(after, 3, 2, Status.MISSING),
            _result(after + MINUTE, 1, 1, Status.MATCH),
        ]
    )
    assert (first.day, first.windows, first.source_changes) == (date(2024, 3, 1), 1, 5)
    assert (second.day, second.windows, second.source_changes, second.landed) == (
        date(2024, 3, 2),
        2,
        4,
        3,
    )
    assert second.statuses == {Status.MISSING: 1, Status.MATCH: 1}
    assert second.difference == -1


def test_only_the_latest_judgement_of_a_window_counts() -> None:
    start = _ms(2024, 3, 1, 2, 0)
    early = _result(start, 3, 2, Status.MISSING)
    late = replace(_result(start, 3, 3, Status.LATE), revision=1)
    [total] = daily_totals([late, early])
    assert (total.windows, total.landed, total.statuses) == (1, 3, {Status.LATE: 1})


def test_totals_are_per_institution() -> None:
    start = _ms(2024, 3, 1, 2, 0)
    other = replace(_result(start, 1, 1, Status.MATCH), institution_id="OTHER")
    totals = daily_totals([_result(start, 1, 1, Status.MATCH), other])
    assert [t.institution_id for t in totals] == [INST, "OTHER"]
