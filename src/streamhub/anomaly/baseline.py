"""A feed's robust seasonal baseline of events per commit minute.

Why this shape: traffic follows the business day (a hospital at 09:00 is twenty times
busier than at 03:00), so a fixed threshold either misses a night-time outage or pages
every morning. The expected count for a minute is

    expected = slot_level × level_factor

``slot_level`` is the median, over the last few *periods* (days, or weeks), of the
per-period median count in this minute's seasonal slot (hour of the business day by
default): robust to one bad day. ``level_factor`` is the median ratio of the last few
minutes to their slot levels, clamped, so today's overall level (growth, a holiday, the
ramp inside an hour) moves the expectation without letting an anomaly drag it along.
Until a slot has seen ``min_periods`` periods the baseline falls back to the robust recent
level (median of the last minutes) and, to stay quiet at cold start, judges only
silence against the *quietest* recent minute and large spikes; before ``min_history``
minutes it judges nothing.

Seasonality is keyed by *business* time. In production commit time is business time
(compression 1). The simulator compresses a day into minutes (360× → a day every 4
wall minutes), so :class:`SeasonalCalendar` maps a wall commit minute to business time with
the same compression; each wall minute then lands in a stable phase of the compressed day
and the slots learn that phase's level after a couple of compressed days. Nothing else
changes: the detector always works on wall-clock commit minutes.

Dispersion is learned too: sigma² = expected + (cv·expected)², Poisson noise plus an
overdispersion ``cv`` estimated from the MAD of recent ratios (never below ``min_cv``).
Only minutes judged normal are learned, clipped to the band, so faults do not leak in.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from statistics import median
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
SHANGHAI_OFFSET_MS = 8 * HOUR_MS
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution × this = its standard deviation

Mode = Literal["cold", "recent", "seasonal"]
NO_PERIOD = -(2**63)  # a slot that has seen no minute yet


class SeasonalCalendar(BaseModel):
    """Maps a wall-clock commit minute to a slot of the business day (or week).

    Not a clock (it tells no time; :mod:`streamhub.core.clock` does): a calendar that says
    which seasonal slot and which period a given minute falls in.

    ``compression`` is business seconds per wall second: 1 in production, the simulator's
    144 or 360 in a demo. ``origin_ms``/``business_origin_ms`` pin wall time to business
    time (the simulator's run start); left at 0 the slots are still consistent phases,
    merely not labelled with the true business hour.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    compression: float = Field(
        1.0,
        gt=0,
        description="Business seconds per wall second: 1 in production, the simulator's "
        "--compression (144, 360) in a demo.",
    )
    origin_ms: int = Field(
        0, description="Wall time (epoch ms) that business_origin_ms corresponds to."
    )
    business_origin_ms: int = Field(
        0, description="Business time (epoch ms) at origin_ms; 0: phases without true hours."
    )
    slot_ms: int = Field(
        15 * MINUTE_MS,
        ge=MINUTE_MS,
        le=DAY_MS,
        description="Length of a seasonal slot: short enough that a morning ramp is flat "
        "within it.",
    )
    weekly: bool = Field(False, description="Slots of the business week instead of the day.")
    utc_offset_ms: int = Field(
        SHANGHAI_OFFSET_MS,
        ge=-14 * HOUR_MS,
        le=14 * HOUR_MS,
        description="Offset of the business day's local time from UTC (Asia/Shanghai: +8 h).",
    )

    @property
    def period_ms(self) -> int:
        return DAY_MS * (7 if self.weekly else 1)

    def business_ms(self, wall_ms: int) -> int:
        return self.business_origin_ms + round((wall_ms - self.origin_ms) * self.compression)

    def slot(self, window_start_ms: int) -> int:
        local = self.business_ms(window_start_ms) + self.utc_offset_ms
        return (local % self.period_ms) // self.slot_ms

    def period(self, window_start_ms: int) -> int:
        return (self.business_ms(window_start_ms) + self.utc_offset_ms) // self.period_ms


class BaselineConfig(BaseModel):
    """How a feed's baseline learns its traffic (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seasonal: SeasonalCalendar = Field(
        default_factory=SeasonalCalendar,
        description="Which slot of the business day (or week) a minute belongs to.",
    )
    min_history: int = Field(
        5, ge=1, description="Minutes seen before anything is judged (cold start stays quiet)."
    )
    recent_minutes: int = Field(
        10, ge=1, description="Window of the recent level (the cold-start fallback), minutes."
    )
    level_minutes: int = Field(
        20,
        ge=1,
        description="Window of the level factor, minutes: longer, as it multiplies everything.",
    )
    periods_kept: int = Field(7, ge=1, description="Per-period slot medians kept (a week of days).")
    min_periods: int = Field(
        2, ge=1, description="Periods a slot needs before the seasonal profile is trusted."
    )
    level_clamp: tuple[float, float] = Field(
        (0.5, 2.0),
        description="How far today's level may move the slot level (lowest, highest factor).",
    )
    min_cv: float = Field(
        0.15,
        ge=0,
        description="Overdispersion floor: real traffic is burstier than Poisson.",
    )
    z: float = Field(4.0, gt=0, description="Half-width of the learning band, in sigmas.")

    @model_validator(mode="after")
    def _clamp_is_a_range(self) -> BaselineConfig:
        low, high = self.level_clamp
        if not 0 < low <= 1 <= high:
            raise ValueError(f"level_clamp {self.level_clamp}: want 0 < lowest <= 1 <= highest")
        return self


@dataclass(frozen=True)
class Expectation:
    mode: Mode
    expected: float
    sigma: float
    lower: float
    upper: float
    silence_rate: float  # a conservative events/minute: evidence per silent minute

    @property
    def judged(self) -> bool:
        return self.mode != "cold"


class _Slots:
    """Every seasonal slot of one feed, in flat arrays: the last ``periods_kept`` per-period
    medians of each slot (a ring), the period its latest values belong to, and those values.

    Only the slot being filled keeps its values as a list; once a minute of another slot is
    learned, the values of the slot left behind are frozen into their median (``_pending``),
    which is all that is ever read of them again (minutes come in commit-time order, so a
    slot left behind is not re-entered in the same period). A feed then holds about
    ``slots × (periods_kept + 2)`` doubles however long it runs (the medians from its second
    period on): a dict of per-slot objects, deques and value lists was ~110 kB a feed after
    a business week, ~8 kB this way.
    """

    __slots__ = ("_count", "_head", "_kept", "_live", "_medians", "_pending", "_period", "_values")

    def __init__(self, slots: int, periods_kept: int) -> None:
        self._kept = periods_kept
        # allocated when the first period closes: a feed's first day costs a fraction
        self._medians = array("d")
        self._count = array("i", bytes(4 * slots))
        self._head = array("i", bytes(4 * slots))
        self._period = array("q", [NO_PERIOD]) * slots
        self._pending = array("d", [math.nan]) * slots  # nan: no values in that period
        self._live: int | None = None  # the slot whose values are still a list
        self._values: list[float] = []

    def add(self, slot: int, period: int, value: float) -> None:
        if slot != self._live:
            self._freeze()
        if period != self._period[slot]:
            self._close(slot)
            self._period[slot] = period
        if slot != self._live:
            self._values = [] if math.isnan(self._pending[slot]) else self._thaw(slot)
            self._live = slot
        self._values.append(value)

    def level(self, slot: int, period: int, min_periods: int) -> float | None:
        count = self._count[slot]
        start = slot * self._kept
        past = list(self._medians[start : start + count])
        last = self._period[slot]
        if last != NO_PERIOD and last != period:
            latest = self._latest(slot)
            if latest is not None:
                past.append(latest)  # that period is over: it counts already
        return median(past) if len(past) >= min_periods else None

    def _latest(self, slot: int) -> float | None:
        """The median of the slot's values in its latest period, None when it has none."""
        if slot == self._live:
            return median(self._values) if self._values else None
        pending = self._pending[slot]
        return None if math.isnan(pending) else pending

    def _thaw(self, slot: int) -> list[float]:
        # only out-of-order minutes re-enter a slot left behind in the same period: its
        # values are gone, their median stands in for them
        pending = self._pending[slot]
        self._pending[slot] = math.nan
        return [pending]

    def _freeze(self) -> None:
        live = self._live
        if live is not None:
            self._pending[live] = median(self._values) if self._values else math.nan
            self._values = []
            self._live = None

    def _close(self, slot: int) -> None:
        """The slot's period is over: its median joins the ring of past periods."""
        latest = self._latest(slot)
        if slot == self._live:
            self._values = []
        self._pending[slot] = math.nan
        if latest is None:
            return
        kept = self._kept
        if not self._medians:
            self._medians = array("d", bytes(8 * len(self._count) * kept))
        head = self._head[slot]
        self._medians[slot * kept + head] = latest
        self._head[slot] = (head + 1) % kept
        self._count[slot] = min(self._count[slot] + 1, kept)


class Baseline:
    """The learned traffic of one feed; feed it judged minutes in commit-time order."""

    def __init__(self, config: BaselineConfig | None = None) -> None:
        self.config = config or BaselineConfig()
        self.minutes_seen = 0
        self._recent: list[float] = []  # the last recent_minutes values
        self._ratios: list[float] = []  # the last level_minutes ratios
        self._slots: _Slots | None = None  # made at the first minute learned

    def expect(self, window_start_ms: int) -> Expectation:
        cfg = self.config
        if self.minutes_seen < cfg.min_history or not self._recent:
            return Expectation("cold", 0.0, 0.0, 0.0, math.inf, 0.0)
        slot_level = self._slot_level(window_start_ms)
        if slot_level is not None:
            factor = median(self._ratios) if len(self._ratios) >= 3 else 1.0
            factor = min(max(factor, cfg.level_clamp[0]), cfg.level_clamp[1])
            expected = slot_level * factor
            cv = _robust_cv(self._ratios, factor, cfg.min_cv)
            silence_rate = _silence_evidence(expected, cv)
            return self._band("seasonal", expected, cv, silence_rate)
        recent = self._recent
        expected = median(recent)
        cv = _robust_cv(recent, expected, cfg.min_cv)
        # without a profile the quietest recent minute is what silence is measured against
        return self._band("recent", expected, cv, min(recent))

    def learn(self, window_start_ms: int, observed: float, seen: Expectation) -> None:
        """Add a minute judged normal; clipped to the band it was judged against."""
        cfg = self.config
        value = min(max(observed, seen.lower), seen.upper) if seen.judged else observed
        calendar = cfg.seasonal
        if self._slots is None:
            slots = -(-calendar.period_ms // calendar.slot_ms)
            self._slots = _Slots(slots, cfg.periods_kept)
        slot_level = self._slot_level(window_start_ms)
        if slot_level is not None and slot_level > 0:
            _push(self._ratios, value / slot_level, cfg.level_minutes)
        self._slots.add(calendar.slot(window_start_ms), calendar.period(window_start_ms), value)
        _push(self._recent, value, cfg.recent_minutes)
        self.minutes_seen += 1

    def _slot_level(self, window_start_ms: int) -> float | None:
        if self._slots is None:
            return None
        calendar = self.config.seasonal
        return self._slots.level(
            calendar.slot(window_start_ms),
            calendar.period(window_start_ms),
            self.config.min_periods,
        )

    def _band(self, mode: Mode, expected: float, cv: float, silence_rate: float) -> Expectation:
        # Poisson variance never below one event: a learned zero must not pin the band at zero
        sigma = math.sqrt(max(expected, 1.0) + (cv * expected) ** 2)
        z = self.config.z
        return Expectation(
            mode,
            expected,
            sigma,
            max(expected - z * sigma, 0.0),
            expected + z * sigma,
            silence_rate,
        )


def _robust_cv(values: list[float], centre: float, floor: float) -> float:
    """Relative spread (MAD-based) of values around centre, never below floor."""
    if centre <= 0 or len(values) < 3:
        return floor
    mad = median(abs(v - centre) for v in values)
    return max(MAD_TO_SIGMA * mad / centre, floor)


def _silence_evidence(expected: float, cv: float) -> float:
    """-ln P(no event in the minute) for a negative-binomial (overdispersed Poisson) count.

    The spread beyond Poisson, c² = cv² - 1/expected, makes a silent minute less telling
    than e^-expected: P(0) = (1 + expected·c²)^(-1/c²), which tends to e^-expected as c → 0.
    """
    extra_sq = max(cv**2 - 1 / max(expected, 1.0), 0.0)
    if extra_sq < 1e-6:
        return expected
    return math.log1p(expected * extra_sq) / extra_sq


def _push(values: list[float], value: float, keep: int) -> None:
    """Append, keeping only the last ``keep`` values (a short list: cheaper than a deque)."""
    values.append(value)
    if len(values) > keep:
        del values[0]
