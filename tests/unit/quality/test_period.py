from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from streamhub.quality.errors import PeriodError
from streamhub.quality.period import parse_period, trend


def test_month_week_and_day_in_shanghai_time() -> None:
    month = parse_period("2026-12")
    assert (month.kind, month.first, month.end) == ("month", date(2026, 12, 1), date(2027, 1, 1))
    assert month.bounds()[0] == datetime(2026, 11, 30, 16, tzinfo=UTC)
    week = parse_period("2026-W45")
    assert (week.first, week.label) == (date(2026, 11, 2), "2026-W45")
    assert parse_period("2026-11-05").label == "2026-11-05"


def test_trend_goes_back_across_a_year() -> None:
    assert [p.label for p in trend(parse_period("2027-01"), 3)] == ["2026-11", "2026-12", "2027-01"]
    assert [p.label for p in trend(parse_period("2026-03-01"), 2)] == ["2026-02-28", "2026-03-01"]


@pytest.mark.parametrize("text", ["2026-13", "2026/11", "2026-W60", "november"])
def test_a_bad_period_says_what_to_give(text: str) -> None:
    with pytest.raises(PeriodError, match=r"day|week|month"):
        parse_period(text)
