"""From an :class:`Observation` to one status per hop of every institution's link.

Pure: no I/O and no clock (``Observation.now_ms`` is the time of the reading). Each hop
collects findings — a status and a reason an operator can act on — and takes the worst;
a hop without findings is healthy. Topic-level figures (consumer lag) belong to every
institution whose changes travel on that topic: a stuck standardizer delays them all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise

from streamhub.health.model import (
    HOPS,
    STAGES,
    ActivityWindow,
    Beat,
    Connector,
    ConnectorFigures,
    HopHealth,
    InstitutionHealth,
    Observation,
    Status,
    TopicLag,
)
from streamhub.health.thresholds import Thresholds

Finding = tuple[Status, str]

_STAGE_HOP = {"capture": "capture", "standardize": "processing", "land": "center"}


def evaluate(obs: Observation, limits: Thresholds) -> list[InstitutionHealth]:
    """Every institution of ``obs.connectors``, sorted by id.

    Linear in the observation: its activity is indexed by institution once, and the
    topic-level findings (shared by every institution on the same topics) are made once.
    """
    by_institution: dict[str, list[Connector]] = defaultdict(list)
    for connector in sorted(obs.connectors, key=lambda c: c.name):
        by_institution[connector.institution_id].append(connector)
    activity: dict[str, list[ActivityWindow]] = defaultdict(list)
    for window in obs.activity:
        activity[window.institution_id].append(window)
    shared = _Shared(obs, limits)
    return [
        _institution(obs, limits, institution, connectors, activity[institution], shared)
        for institution, connectors in sorted(by_institution.items())
    ]


class _Shared:
    """Findings that depend on topics, not on the institution: made once per topic set."""

    def __init__(self, obs: Observation, limits: Thresholds) -> None:
        self.obs = obs
        self.limits = limits
        self._by_topics: dict[tuple[str, ...], tuple[list[Finding], list[Finding]]] = {}
        self.center = list(_stage_age(obs, limits, _lander_lags(obs), "lander"))

    def channel_and_processing(self, topics: list[str]) -> tuple[list[Finding], list[Finding]]:
        key = tuple(topics)
        found = self._by_topics.get(key)
        if found is None:
            obs, limits = self.obs, self.limits
            found = self._by_topics[key] = (
                list(_channel(obs, limits, topics)),
                list(
                    _stage_age(
                        obs, limits, _lags(obs, obs.standardize_group, topics), "standardizer"
                    )
                ),
            )
        return found


def _institution(
    obs: Observation,
    limits: Thresholds,
    institution: str,
    connectors: list[Connector],
    activity: list[ActivityWindow],
    shared: _Shared,
) -> InstitutionHealth:
    findings: dict[str, list[Finding]] = {hop: [] for hop in HOPS}
    figures = []
    for connector in connectors:
        beats = obs.beats.get(connector.name, ())
        latest = beats[-1] if beats else None
        age_s = None if latest is None else max(obs.now_ms - latest.emitted_ts_ms, 0) / 1000
        fresh = latest if age_s is not None and age_s < limits.heartbeat_down_s else None
        findings["source"] += _source(obs, limits, connector, fresh)
        findings["capture"] += _capture(obs, limits, connector, beats, age_s)
        lag_s = None if fresh is None or fresh.lag_ms is None else fresh.lag_ms / 1000
        figures.append(ConnectorFigures(connector.name, age_s, lag_s))
    topics = sorted({c.topic for c in connectors})
    channel, processing = shared.channel_and_processing(topics)
    findings["channel"] += channel
    findings["processing"] += processing
    findings["center"] += shared.center
    findings["center"] += _landing(obs, limits, institution, connectors, activity)
    rates = {}
    for stage in STAGES:
        count = obs.dead_letters.get((institution, stage), 0)
        rates[stage] = count / (limits.recent_s / 60) if limits.recent_s else 0.0
        findings[_STAGE_HOP[stage]] += _dead_letters(limits, stage, count, rates[stage])
    landed = obs.landed_commit_ms.get(institution)
    return InstitutionHealth(
        institution_id=institution,
        name=next((c.institution_name for c in connectors if c.institution_name), None),
        hops=tuple(_hop(hop, findings[hop]) for hop in HOPS),
        connectors=tuple(figures),
        dead_letters_per_minute=rates,
        landing_freshness_s=None if landed is None else max(obs.now_ms - landed, 0) / 1000,
    )


def _hop(hop: str, findings: list[Finding]) -> HopHealth:
    if not findings:
        return HopHealth(hop, Status.HEALTHY)
    worst = max(status for status, _ in findings)
    # the worst reasons first, then the lesser ones, each in the order found
    ordered = [reason for status, reason in findings if status == worst]
    ordered += [reason for status, reason in findings if status != worst]
    return HopHealth(hop, worst, tuple(ordered))


def _grade(value: float, degraded: float, down: float) -> tuple[Status, float]:
    """The status of ``value`` and the limit it crossed (``degraded`` when healthy)."""
    if value >= down:
        return Status.DOWN, down
    if value >= degraded:
        return Status.DEGRADED, degraded
    return Status.HEALTHY, degraded


# --- source ------------------------------------------------------------------------------


def _source(
    obs: Observation, limits: Thresholds, connector: Connector, fresh: Beat | None
) -> Iterable[Finding]:
    why = obs.unreachable.get(connector.name)
    if why is not None:
        yield (
            Status.DOWN,
            (f"{connector.name}: database {connector.host}:{connector.port} unreachable ({why})"),
        )
    if fresh is None:
        return  # nothing current to judge the log by; the capture hop says why
    if fresh.lag_bytes is not None:
        status, limit = _grade(
            fresh.lag_bytes, limits.source_lag_bytes_degraded, limits.source_lag_bytes_down
        )
        if status:
            yield (
                status,
                (
                    f"{connector.name}: {_bytes(fresh.lag_bytes)} of source log retained for it "
                    f"(slot/binlog; {status.label} at {_bytes(limit)})"
                ),
            )
    if fresh.lag_ms is not None:
        lag_s = fresh.lag_ms / 1000
        status, limit = _grade(lag_s, limits.source_lag_degraded_s, limits.source_lag_down_s)
        if status:
            yield (
                status,
                (
                    f"{connector.name}: {_duration(lag_s)} behind the source's commits "
                    f"({status.label} at {_duration(limit)})"
                ),
            )


def _duration(seconds: float) -> str:
    """Seconds as an operator reads them: 130 s, 12 min, 5.1 h."""
    if seconds < 600:
        return f"{seconds:.0f} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - the loop always returns


# --- capture -----------------------------------------------------------------------------


def _capture(
    obs: Observation,
    limits: Thresholds,
    connector: Connector,
    beats: tuple[Beat, ...],
    age_s: float | None,
) -> Iterable[Finding]:
    name = connector.name
    if age_s is None or not beats:
        minutes = (obs.now_ms - obs.since_ms) / 60_000
        yield (
            Status.DOWN,
            (
                f"{name}: no heartbeat in the last {minutes:.0f} min "
                "(is a `streamhub capture` agent running it?)"
            ),
        )
        return
    status, limit = _grade(age_s, limits.heartbeat_degraded_s, limits.heartbeat_down_s)
    if status:
        yield (
            status,
            (
                f"{name}: last heartbeat {_duration(age_s)} ago "
                f"({status.label} after {_duration(limit)}; is its capture agent running?)"
            ),
        )
        if status is Status.DOWN:
            return  # what the last heartbeat said is history
    latest = beats[-1]
    if latest.state == "failed":
        why = latest.error or "see the capture agent's log"
        yield Status.DOWN, f"{name}: connector reports failed ({why})"
    elif latest.state == "paused" and latest.error:
        # a Debezium connector paused or stopped in Kafka Connect captures nothing until resumed
        yield Status.DOWN, f"{name}: connector is paused ({latest.error})"
    elif latest.state == "paused":
        yield Status.DEGRADED, f"{name}: connector is paused"
    recent_from = obs.now_ms - limits.recent_s * 1000
    errors, restarts = _errors_and_restarts(beats, recent_from)
    minutes = limits.recent_s / 60
    if restarts:
        yield (
            Status.DEGRADED,
            (
                f"{name}: restarted {restarts} time(s) in the last {minutes:.0f} min "
                "(the capture agent's log says why)"
            ),
        )
    if errors:
        yield (
            Status.DEGRADED,
            (
                f"{name}: {errors} error(s) in the last {minutes:.0f} min "
                "(dlq.capture and the capture agent's log)"
            ),
        )


def _errors_and_restarts(beats: tuple[Beat, ...], recent_from: float) -> tuple[int, int]:
    """Errors counted and connector restarts seen between heartbeats after ``recent_from``.

    Totals count from the connector's (re)start: a total that went down is a restart, and
    its new total counts whole.
    """
    errors = restarts = 0
    for before, after in pairwise(beats):
        if after.emitted_ts_ms < recent_from:
            continue
        if after.events_total < before.events_total or after.errors_total < before.errors_total:
            restarts += 1
            errors += after.errors_total
        else:
            errors += after.errors_total - before.errors_total
    return errors, restarts


# --- channel, processing, center ---------------------------------------------------------


def _lags(obs: Observation, group: str, topics: list[str]) -> list[TopicLag]:
    return [lag for lag in obs.lags if lag.group == group and lag.topic in topics]


def _lander_lags(obs: Observation) -> list[TopicLag]:
    """The lander's lag on std.*: what keeps standardized changes from the center."""
    return [
        lag for lag in obs.lags if lag.group == obs.lander_group and lag.topic.startswith("std.")
    ]


def _channel(obs: Observation, limits: Thresholds, topics: list[str]) -> Iterable[Finding]:
    if obs.kafka_error is not None:
        yield Status.DOWN, f"Kafka unreachable: {obs.kafka_error}"
        return
    for topic in topics:
        if topic in obs.missing_topics:
            yield Status.DOWN, f"topic {topic} does not exist (run `streamhub topics apply`)"
    stages = (
        ("standardize", _lags(obs, obs.standardize_group, topics)),
        ("land", _lander_lags(obs)),
    )
    for stage, lags in stages:
        for lag in lags:
            if not lag.committed and lag.messages:
                yield (
                    Status.DEGRADED,
                    (
                        f"group {lag.group} has never consumed {lag.topic} "
                        f"({lag.messages:,} messages waiting; is `streamhub {stage}` running?)"
                    ),
                )
        behind = sum(lag.messages for lag in lags if lag.committed)
        status, limit = _grade(behind, limits.consumer_lag_degraded, limits.consumer_lag_down)
        if status:
            topics_behind = ", ".join(lag.topic for lag in lags if lag.messages)
            yield (
                status,
                (
                    f"{stage} group {lags[0].group} is {behind:,} messages behind on "
                    f"{topics_behind} ({status.label} at {limit:,.0f})"
                ),
            )


def _stage_age(
    obs: Observation, limits: Thresholds, lags: list[TopicLag], stage: str
) -> Iterable[Finding]:
    waiting = [lag for lag in lags if lag.committed and lag.messages and lag.oldest_ts_ms]
    if not waiting:
        return
    oldest = min(waiting, key=lambda lag: lag.oldest_ts_ms or 0)
    age_s = max(obs.now_ms - (oldest.oldest_ts_ms or obs.now_ms), 0) / 1000
    status, limit = _grade(age_s, limits.stage_lag_degraded_s, limits.stage_lag_down_s)
    if status:
        yield (
            status,
            (
                f"{stage} (group {oldest.group}) is {_duration(age_s)} behind on {oldest.topic}: "
                "its oldest unprocessed message waits since then "
                f"({status.label} at {_duration(limit)})"
            ),
        )


def _landing(
    obs: Observation,
    limits: Thresholds,
    institution: str,
    connectors: list[Connector],
    activity: list[ActivityWindow],
) -> Iterable[Finding]:
    """Source changes in the horizon not landed yet, judged by how long they have waited.

    Landed up to ``landed`` (newest landed commit): a source minute ending after it, or a
    heartbeat's last event after it, is still on its way; it has waited since the later of
    its start and ``landed``. An institution without such changes is idle or caught up.
    """
    landed = obs.landed_commit_ms.get(institution)
    floor = max(landed or obs.since_ms, obs.since_ms)
    pending = [max(w.window_start_ms, floor) for w in activity if w.end_ms > floor]
    pending += [
        beats[-1].last_event_ts_ms
        for connector in connectors
        if (beats := obs.beats.get(connector.name))
        and beats[-1].last_event_ts_ms is not None
        and beats[-1].last_event_ts_ms > floor
    ]
    if not pending:
        return
    waited_s = max(obs.now_ms - min(pending), 0) / 1000
    status, limit = _grade(waited_s, limits.landing_degraded_s, limits.landing_down_s)
    if status:
        newest = (
            "nothing landed in the horizon"
            if landed is None
            else f"newest landed commit {_duration(max(obs.now_ms - landed, 0) / 1000)} old"
        )
        yield (
            status,
            (
                f"source changes waiting {_duration(waited_s)} to land in ClickHouse ({newest}; "
                f"{status.label} at {_duration(limit)})"
            ),
        )


def _dead_letters(limits: Thresholds, stage: str, count: int, rate: float) -> Iterable[Finding]:
    status, limit = _grade(
        rate, limits.dead_letters_degraded_per_min, limits.dead_letters_down_per_min
    )
    if status:
        yield (
            status,
            (
                f"{rate:.1f} dead letters/min in dlq.{stage} ({count} in the last "
                f"{limits.recent_s / 60:.0f} min; {status.label} at {limit:g}/min)"
            ),
        )
