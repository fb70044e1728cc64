"""Prometheus metrics of the reconcile app, built through :class:`MetricNamer`
(``streamhub_reconcile_<what>_<unit>``; names fixed by the operator plane's contract).

Labels are bounded: institution by the connector set, status by the verdicts, kind and
outcome by the input kinds; never a table or window.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from streamhub.core.metrics import MetricNamer, process_wide
from streamhub.reconcile.reconciler import Reconciler
from streamhub.reconcile.result import Result


@dataclass(frozen=True)
class ReconcileMetrics:
    judgements: Counter
    windows: Gauge
    missing_changes: Gauge
    inputs: Counter
    last_judged: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ReconcileMetrics:
        namer = MetricNamer("reconcile", registry)
        return cls(
            judgements=namer.counter(
                "judgements_total",
                "Reconciliation results emitted to ops.reconciliation, by verdict.",
                ("institution", "status"),
            ),
            windows=namer.gauge(
                "windows",
                "Retained windows by their current verdict (PENDING: not judged yet).",
                ("institution", "status"),
            ),
            missing_changes=namer.gauge(
                "missing_changes",
                "Source changes neither landed nor rejected, summed over MISSING windows.",
                ("institution",),
            ),
            inputs=namer.counter(
                "inputs_total",
                "Input records by kind (source|landed|standardized|rejection) and outcome "
                "(applied, parked, stale, ignored, undecodable, refused).",
                ("kind", "outcome"),
            ),
            last_judged=namer.gauge(
                "last_judged_timestamp_seconds",
                "When the app last judged its windows (epoch seconds).",
            ),
        )

    def emitted(self, results: list[Result]) -> None:
        for result in results:
            self.judgements.labels(result.institution_id, result.status.value).inc()

    def observe(self, reconciler: Reconciler, now_s: float) -> None:
        """Refresh the gauges from the reconciler's counts of its retained windows (kept up
        to date as verdicts change: no pass over every window)."""
        self.windows.clear()
        for (institution, verdict), count in reconciler.verdict_counts().items():
            self.windows.labels(institution, verdict.value).set(count)
        self.missing_changes.clear()
        for institution, count in reconciler.missing_changes().items():
            self.missing_changes.labels(institution).set(count)
        self.last_judged.set(now_s)


@process_wide
def reconcile_metrics() -> ReconcileMetrics:
    """One set per process, in the default registry that `--metrics-port` serves."""
    return ReconcileMetrics.create(REGISTRY)
