"""The province's day in compressed business time, and each institution's share of it.

A business day plays in ``day_minutes`` wall minutes (compression = 1,440 / day_minutes
simulated seconds per wall second). The day's curve (the activity model's, normalised to a
mean of 1) shapes every institution alike; the whole fleet's wall rate at the curve's peak
is ``peak_rate`` changes/s, and each institution gets the share its weight says. A real
province's peak (about 6,000 changes/s) times the compression is far beyond one box, so
``peak_rate`` scales the volume down while keeping the mix and the shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from streamhub.fleet.errors import FleetOptionsError
from streamhub.simulate.activity import load_activity
from streamhub.simulate.business_time import FLAT, DayCurve

DAY_S = 86_400


@dataclass(frozen=True)
class Pacing:
    day_minutes: float = 20.0
    peak_rate: float = 1500.0  # changes per wall second, whole fleet, at the curve's peak
    flat: bool = False

    def __post_init__(self) -> None:
        if self.day_minutes <= 0 or self.peak_rate <= 0:
            raise FleetOptionsError(
                f"--day-minutes ({self.day_minutes:g}) and --peak-rate ({self.peak_rate:g}) "
                "must be positive"
            )

    @property
    def compression(self) -> float:
        """Simulated seconds per wall second."""
        return DAY_S / (self.day_minutes * 60)

    @cached_property
    def curve(self) -> DayCurve:
        return FLAT if self.flat else DayCurve(load_activity().day_curve)

    @cached_property
    def peak(self) -> float:
        """The curve's highest intensity (the mean is 1): at one of its points."""
        if self.flat:
            return 1.0
        return max(self.curve.at_hour(hour) for hour, _ in load_activity().day_curve)

    @property
    def mean_rate(self) -> float:
        """The fleet's wall rate averaged over the day."""
        return self.peak_rate / self.peak

    def share(self, weight: float, total_weight: float) -> float:
        """An institution's mean wall rate (changes/s) for its weight."""
        return self.mean_rate * weight / total_weight

    def rate_at_hour(self, hour: float) -> float:
        """The fleet's wall rate at a business hour."""
        return self.mean_rate * self.curve.at_hour(hour)
