"""One feed's state machine: classify each minute, debounce, open, escalate and close.

A minute is *high* (spike-sized), *low* (drop-sized), *zero* or normal against the feed's
:class:`~streamhub.anomaly.baseline.Expectation`. Silence is judged by evidence, not by a
count of minutes: every silent minute adds -ln P(no event) under the baseline (an
overdispersed Poisson), and the feed is silent once the sum reaches ``silence_evidence``
(the whole silent run had probability below e^-12). A busy feed is flagged after its first
silent minute, a sparse one after as many minutes as its expectation needs: this is what
"no events in business hours" means for each feed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from streamhub.anomaly.baseline import MINUTE_MS, Baseline, BaselineConfig, Expectation
from streamhub.anomaly.events import AnomalyEvent, FeedKey, Kind, Severity

State = Literal["high", "low", "zero", "normal"]
DOWN_KINDS = (Kind.DROP, Kind.SILENCE, Kind.STUCK)


class JudgeConfig(BaseModel):
    """When a feed's minutes make an anomaly, how it escalates and when it closes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    silence_evidence: float = Field(
        12.0,
        gt=0,
        description="Silence once the silent run's -ln P(no event | baseline) reaches this "
        "(e^-12).",
    )
    min_expected: float = Field(
        5.0, ge=0, description="A minute expecting fewer events cannot show a drop."
    )
    drop_ratio: float = Field(
        0.4,
        gt=0,
        lt=1,
        description="A low minute holds at most this share of the expected count (well below "
        "the baseline's own day-to-day wobble, about ±25%).",
    )
    drop_z: float = Field(2.5, gt=0, description="And lies this many sigmas below it.")
    drop_k: int = Field(2, ge=1, description="Drop: drop_k low minutes among the last drop_n.")
    drop_n: int = Field(3, ge=1, description="Minutes a drop is debounced over.")
    spike_ratio: float = Field(
        2.0, gt=1, description="A high minute holds at least this multiple of the expected count."
    )
    spike_z: float = Field(
        6.0,
        gt=0,
        description="And lies this many sigmas above it: one minute decides a spike.",
    )
    spike_min_excess: float = Field(
        20.0, ge=0, description="Rows above the expectation before a spike counts."
    )
    spike_k: int = Field(
        1,
        ge=1,
        description="Spike: spike_k high minutes among the last spike_n (a burst is "
        "one minute: flag it at once).",
    )
    spike_n: int = Field(1, ge=1, description="Minutes a spike is debounced over.")
    recover_minutes: int = Field(
        2, ge=1, description="Consecutive normal minutes that close an anomaly."
    )
    critical_ratio: float = Field(
        10.0,
        gt=1,
        description="A spike this many times the expected count, or a drop to this fraction "
        "of it, is critical.",
    )
    stuck_critical_ms: int = Field(
        15 * MINUTE_MS, ge=0, description="A stuck feed turns critical after this long."
    )

    @model_validator(mode="after")
    def _debounce_fits(self) -> JudgeConfig:
        for k, n in (("drop_k", "drop_n"), ("spike_k", "spike_n")):
            if getattr(self, k) > getattr(self, n):
                raise ValueError(f"{k}={getattr(self, k)} exceeds {n}={getattr(self, n)}")
        return self


@dataclass
class OpenAnomaly:
    anomaly_id: str
    kind: Kind
    severity: Severity
    start_ms: int
    up_minutes: int = 0


@dataclass(slots=True)
class FeedJudge:
    key: FeedKey
    config: JudgeConfig
    baseline: Baseline
    # the last max(drop_n, spike_n) minutes' states (a short list: cheaper than a deque)
    states: list[tuple[int, State]] = field(default_factory=list)
    silence_sum: float = 0.0
    silence_start: int | None = None
    open: OpenAnomaly | None = None
    started: bool = False  # the feed has had traffic (its history begins there)

    @classmethod
    def new(cls, key: FeedKey, config: JudgeConfig, baseline: BaselineConfig) -> FeedJudge:
        return cls(key, config, Baseline(baseline))

    def reset(self) -> None:
        """Forget pending evidence (a minute under maintenance breaks the run)."""
        self.states.clear()
        self.silence_sum, self.silence_start = 0.0, None

    def judge(
        self, minute: int, observed: int, connector_active: bool, now_ms: int
    ) -> AnomalyEvent | None:
        if not self.started:
            # a feed's history begins with its first traffic: the empty minutes before it
            # (a connector snapshotting, a source not yet writing) would teach the
            # cold-start baseline a zero, and silence is judged against the quietest minute
            self.started = observed > 0
            if not self.started:
                return None
        seen = self.baseline.expect(minute)
        if not seen.judged:
            self.baseline.learn(minute, observed, seen)
            return None
        state = self._classify(observed, seen)
        self._remember(minute, state, observed, seen)
        if self.open is None:
            return self._maybe_open(minute, observed, seen, connector_active, now_ms)
        return self._follow(self.open, minute, observed, seen, state, connector_active, now_ms)

    # --- classification -------------------------------------------------------------------

    def _classify(self, observed: int, seen: Expectation) -> State:
        cfg, exp = self.config, seen.expected
        sigma = max(seen.sigma, 1e-9)
        if (
            observed >= exp * cfg.spike_ratio
            and observed - exp >= cfg.spike_min_excess
            and (observed - exp) / sigma >= cfg.spike_z
        ):
            return "high"
        if (
            seen.mode == "seasonal"  # without a profile a quiet phase is not a drop
            and exp >= cfg.min_expected
            and observed <= exp * cfg.drop_ratio
            and (exp - observed) / sigma >= cfg.drop_z
        ):
            return "low"
        if observed == 0 and seen.silence_rate >= 1.0:
            return "zero"  # silence evidence only: too sparse a minute to call a drop
        return "normal"

    def _remember(self, minute: int, state: State, observed: int, seen: Expectation) -> None:
        self.states.append((minute, state))
        if len(self.states) > max(self.config.drop_n, self.config.spike_n):
            del self.states[0]
        if observed == 0:
            self.silence_sum += seen.silence_rate
            self.silence_start = minute if self.silence_start is None else self.silence_start
        else:
            self.silence_sum, self.silence_start = 0.0, None
        # a silent minute is learned (clipped) too: a sparse feed's zeros are its normal, and
        # a busy feed's first silent minute already opens SILENCE, which stops learning
        if self.open is None and state in ("normal", "zero"):
            self.baseline.learn(minute, observed, seen)

    def _silent(self) -> bool:
        return self.silence_sum >= self.config.silence_evidence

    def _debounced(self, states: tuple[State, ...], k: int, n: int) -> int | None:
        """Start minute of the evidence when k of the last n minutes are in ``states``."""
        window = self.states[-n:]
        hits = [minute for minute, state in window if state in states]
        return hits[0] if len(hits) >= k else None

    # --- the state machine ----------------------------------------------------------------

    def _maybe_open(
        self, minute: int, observed: int, seen: Expectation, active: bool, now_ms: int
    ) -> AnomalyEvent | None:
        cfg = self.config
        kind: Kind | None = None
        start: int | None = None
        if self._silent():
            kind, start = (Kind.STUCK if active else Kind.SILENCE), self.silence_start
        elif (s := self._debounced(("high",), cfg.spike_k, cfg.spike_n)) is not None:
            kind, start = Kind.SPIKE, s
        elif (s := self._debounced(("low",), cfg.drop_k, cfg.drop_n)) is not None:
            kind, start = Kind.DROP, s
        if kind is None or start is None:
            return None
        severity = self._severity(kind, observed, seen, start, minute)
        self.open = OpenAnomaly(self.key.anomaly_id(kind, start), kind, severity, start)
        return self._event(self.open, minute, observed, seen, now_ms)

    def _follow(
        self,
        anomaly: OpenAnomaly,
        minute: int,
        observed: int,
        seen: Expectation,
        state: State,
        active: bool,
        now_ms: int,
    ) -> AnomalyEvent | None:
        if anomaly.kind == Kind.SPIKE:
            up = state != "high"
        else:
            up = state == "normal" and observed > 0
            neutral = observed == 0 and seen.expected < self.config.min_expected
            if neutral:
                return None
        anomaly.up_minutes = anomaly.up_minutes + 1 if up else 0
        if anomaly.up_minutes >= self.config.recover_minutes:
            end = minute - (self.config.recover_minutes - 1) * MINUTE_MS
            event = self._event(anomaly, minute, observed, seen, now_ms, end_ms=end)
            self.open = None
            self.reset()
            return event
        changed = False
        if anomaly.kind in DOWN_KINDS and self._silent():
            kind = Kind.STUCK if active else Kind.SILENCE
            changed, anomaly.kind = kind != anomaly.kind, kind
        severity = self._severity(anomaly.kind, observed, seen, anomaly.start_ms, minute)
        if _rank(severity) > _rank(anomaly.severity):
            changed, anomaly.severity = True, severity
        if not changed:
            return None
        return self._event(anomaly, minute, observed, seen, now_ms)

    def _severity(
        self, kind: Kind, observed: int, seen: Expectation, start: int, minute: int
    ) -> Severity:
        cfg = self.config
        critical = {
            Kind.SILENCE: True,
            Kind.STUCK: minute + MINUTE_MS - start >= cfg.stuck_critical_ms,
            Kind.SPIKE: observed >= seen.expected * cfg.critical_ratio,
            Kind.DROP: observed * cfg.critical_ratio <= seen.expected,
        }.get(kind, False)
        return Severity.CRITICAL if critical else Severity.WARNING

    def _event(
        self,
        anomaly: OpenAnomaly,
        minute: int,
        observed: int,
        seen: Expectation,
        now_ms: int,
        end_ms: int | None = None,
    ) -> AnomalyEvent:
        closing = end_ms is not None
        return AnomalyEvent(
            anomaly_id=anomaly.anomaly_id,
            feed=self.key,
            metric="events_per_minute",
            kind=Kind.RECOVERED if closing else anomaly.kind,
            severity=anomaly.severity,
            observed=observed,
            expected=seen.expected,
            lower=seen.lower,
            upper=seen.upper,
            score=(observed - seen.expected) / max(seen.sigma, 1e-9),
            window_start_ms=minute,
            detected_ts_ms=now_ms,
            start_ms=anomaly.start_ms,
            end_ms=end_ms,
            recovered_kind=anomaly.kind if closing else None,
            detail=f"{seen.mode} baseline",
        )


def _rank(severity: Severity) -> int:
    return 1 if severity == Severity.CRITICAL else 0
