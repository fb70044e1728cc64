"""Prometheus metrics of ``streamhub quality orders run`` (``streamhub_quality_<what>_<unit>``).

Labels are bounded: institution by the institutions registered, status by the order states.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from streamhub.core.metrics import MetricNamer
from streamhub.quality.orders import ACTIVE_STATES, WorkOrder


@dataclass(frozen=True)
class OrderMetrics:
    orders: Gauge
    overdue: Gauge
    score: Gauge
    evaluations: Counter
    last_evaluated: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> OrderMetrics:
        namer = MetricNamer("quality", registry)
        return cls(
            orders=namer.gauge(
                "work_orders_count",
                "Work orders not closed, by institution and state (open, acknowledged, "
                "fix_reported, escalated).",
                ("institution", "status"),
            ),
            overdue=namer.gauge(
                "work_orders_overdue_count",
                "Work orders past their deadline and not closed, by institution.",
                ("institution",),
            ),
            score=namer.gauge(
                "score_ratio",
                "Overall quality score of the current month (Shanghai) per institution, 0-1 "
                "(the report's 0-100 score / 100).",
                ("institution",),
            ),
            evaluations=namer.counter(
                "work_order_evaluations_total",
                "Work order evaluations by outcome (ok, failed).",
                ("outcome",),
            ),
            last_evaluated=namer.gauge(
                "work_orders_last_evaluated_timestamp_seconds",
                "When the work orders were last evaluated (epoch seconds).",
            ),
        )

    def export(
        self,
        active: Iterable[WorkOrder],
        scores: Mapping[str, float],
        now_ms: int,
        institutions: Iterable[str] = (),
    ) -> None:
        """Set the gauges from the active orders and the institutions' 0-100 scores; an
        institution seen before and without orders now reads 0."""
        orders = list(active)
        states = Tally((o.institution_id, o.state) for o in orders)
        overdue = Tally(o.institution_id for o in orders if o.overdue(now_ms))
        known = set(institutions) | set(scores) | {o.institution_id for o in orders}
        for inst in known:
            for state in ACTIVE_STATES:
                self.orders.labels(inst, state).set(states.get((inst, state), 0))
            self.overdue.labels(inst).set(overdue.get(inst, 0))
        for inst, value in scores.items():
            self.score.labels(inst).set(value / 100.0)
        self.last_evaluated.set(now_ms / 1000)
