"""Check periods: a day (2026-11-05), an ISO week (2026-W45) or a month (2026-11), in
Asia/Shanghai, as UTC bounds [start, end)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from streamhub.quality.errors import PeriodError
from streamhub.quality.weights import TIMEZONE

_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Period:
    kind: str  # day, week or month
    first: date  # first local day
    end: date  # first local day after

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.first.isoformat()
        if self.kind == "week":
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.first.year}-{self.first.month:02d}"

    def bounds(self) -> tuple[datetime, datetime]:
        """The period's UTC [start, end)."""
        zone = ZoneInfo(TIMEZONE)

        def at(day: date) -> datetime:
            return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)

        return at(self.first), at(self.end)

    def previous(self) -> Period:
        if self.kind == "day":
            return _day(self.first - timedelta(days=1))
        if self.kind == "week":
            return _week(self.first - timedelta(days=7))
        last = self.first - timedelta(days=1)
        return _month(last.year, last.month)


def _day(day: date) -> Period:
    return Period("day", day, day + timedelta(days=1))


def _week(monday: date) -> Period:
    return Period("week", monday, monday + timedelta(days=7))


def _month(year: int, month: int) -> Period:
    first = date(year, month, 1)
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return Period("month", first, end)


def parse_period(text: str) -> Period:
    try:
        if m := _DAY.match(text):
            return _day(date(int(m[1]), int(m[2]), int(m[3])))
        if m := _WEEK.match(text):
            return _week(date.fromisocalendar(int(m[1]), int(m[2]), 1))
        if m := _MONTH.match(text):
            return _month(int(m[1]), int(m[2]))
    except ValueError as exc:
        raise PeriodError(f"period {text[:40]!r} is not a real day, week or month") from exc
    raise PeriodError(
        f"period {text[:40]!r}: give a day (2026-11-05), an ISO week (2026-W45) "
        "or a month (2026-11)"
    )


def trend(period: Period, count: int) -> list[Period]:
    """``count`` periods ending with ``period``, oldest first."""
    out = [period]
    while len(out) < count:
        out.append(out[-1].previous())
    return out[::-1]
