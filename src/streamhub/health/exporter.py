"""Prometheus view of the last health check: the ``streamhub_health_*`` gauges.

A collector hands out the last check's values as a whole, so a scrape never sees half of
one check and half of the next, and institutions or connectors that vanished drop out.
Labels are bounded: institutions, connectors, hops, stages, groups and topics.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streamhub.health import metrics as names
from streamhub.health.model import InstitutionHealth, Observation


@dataclass(frozen=True)
class Check:
    healths: list[InstitutionHealth]
    observation: Observation


class HealthCollector(Collector):
    def __init__(self) -> None:
        self.check: Check | None = None
        self.failures = 0

    def update(self, healths: list[InstitutionHealth], observation: Observation) -> None:
        self.check = Check(healths, observation)  # one assignment: atomic for scrapes

    def collect(self) -> Iterator[GaugeMetricFamily]:
        check = self.check
        failures = GaugeMetricFamily(
            names.CHECK_FAILURES,
            "Consecutive health checks that failed (the gauges keep the last good check).",
        )
        failures.add_metric([], self.failures)
        yield failures
        if check is None:
            return
        yield from _families(check.healths, check.observation)


def _families(healths: list[InstitutionHealth], obs: Observation) -> Iterator[GaugeMetricFamily]:
    status = GaugeMetricFamily(
        names.LINK_STATE,
        "Link of an institution: 0 healthy, 1 degraded, 2 down (its worst hop).",
        labels=["institution"],
    )
    hops = GaugeMetricFamily(
        names.HOP_STATE,
        "One hop of an institution's link: 0 healthy, 1 degraded, 2 down.",
        labels=["institution", "hop"],
    )
    heartbeat = GaugeMetricFamily(
        names.HEARTBEAT_AGE,
        "Age of a connector's newest heartbeat (absent: none within the horizon).",
        labels=["institution", "connector"],
    )
    source_lag = GaugeMetricFamily(
        names.SOURCE_LAG,
        "How far a connector is behind its source's commits, per its current heartbeat.",
        labels=["institution", "connector"],
    )
    dead = GaugeMetricFamily(
        names.DEAD_LETTERS,
        "Dead letters of an institution per minute over the recent window, by stage.",
        labels=["institution", "stage"],
    )
    freshness = GaugeMetricFamily(
        names.LANDING_FRESHNESS,
        "Age of the newest commit landed in ClickHouse for an institution.",
        labels=["institution"],
    )
    for h in healths:
        institution = h.institution_id
        status.add_metric([institution], int(h.overall))
        for hop in h.hops:
            hops.add_metric([institution, hop.hop], int(hop.status))
        for c in h.connectors:
            if c.heartbeat_age_s is not None:
                heartbeat.add_metric([institution, c.name], c.heartbeat_age_s)
            if c.source_lag_s is not None:
                source_lag.add_metric([institution, c.name], c.source_lag_s)
        for stage, rate in sorted(h.dead_letters_per_minute.items()):
            dead.add_metric([institution, stage], rate)
        if h.landing_freshness_s is not None:
            freshness.add_metric([institution], h.landing_freshness_s)
    lag = GaugeMetricFamily(
        names.CONSUMER_LAG,
        "Messages a consumer group is behind the end of a topic.",
        labels=["group", "topic"],
    )
    for topic_lag in obs.lags:
        lag.add_metric([topic_lag.group, topic_lag.topic], topic_lag.messages)
    checked = GaugeMetricFamily(names.CHECKED, "When the last health check read Kafka.")
    checked.add_metric([], obs.now_ms / 1000)
    yield from (status, hops, heartbeat, source_lag, lag, dead, freshness, checked)
