"""Simulated business time: a compressed day whose intensity follows a curve.

Not a clock: the run reads wall time from :mod:`streamhub.core.clock`; :class:`BusinessTime`
only maps the wall seconds elapsed since the run started onto the simulated day.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise


class DayCurve:
    """Piecewise-linear intensity over the hours of a day, scaled to a mean of 1."""

    def __init__(self, points: list[tuple[float, float]]) -> None:
        self._hours = [h for h, _ in points]
        area = sum((h2 - h1) * (v1 + v2) / 2 for (h1, v1), (h2, v2) in pairwise(points))
        mean = area / 24
        self._values = [v / mean for _, v in points]

    def at_hour(self, hour: float) -> float:
        i = min(max(bisect_right(self._hours, hour) - 1, 0), len(self._hours) - 2)
        h1, h2 = self._hours[i], self._hours[i + 1]
        v1, v2 = self._values[i], self._values[i + 1]
        return v1 + (v2 - v1) * (hour - h1) / (h2 - h1)

    def at(self, moment: datetime) -> float:
        return self.at_hour(moment.hour + moment.minute / 60 + moment.second / 3600)

    @property
    def peak(self) -> float:
        """The highest intensity: piecewise linear, so at one of its points."""
        return max(self._values)


FLAT = DayCurve([(0.0, 1.0), (24.0, 1.0)])


@dataclass(frozen=True)
class BusinessTime:
    """Maps wall seconds since the run started to simulated local business time."""

    start: datetime
    compression: float  # simulated seconds per wall second

    def sim_at(self, wall_elapsed: float) -> datetime:
        return self.start + timedelta(seconds=wall_elapsed * self.compression)

    def wall_at(self, moment: datetime) -> float:
        return (moment - self.start).total_seconds() / self.compression
