"""The one way streamhub builds Prometheus metrics: ``streamhub_<stage>_<what>_<unit>``.

Each stage keeps a frozen dataclass of its metrics with a ``create(registry)`` class method
that builds them through a :class:`MetricNamer`, so names carry their stage and unit, labels
stay bounded (institution, connector, system, table, entity — never a record key) and tests
build a fresh set in their own registry. A metric computed at scrape time (link health) names
its families through the same namer.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from functools import wraps
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streamhub.core.errors import MetricNameError

T = TypeVar("T")

STAGES = frozenset(
    {
        "capture",
        "standardize",
        "land",
        "reconcile",
        "anomaly",
        "health",
        "quality",
        "registry",
        "web",
    }
)

#: A gauge or histogram name ends in one of these; counters end in ``_total``.
UNITS = (
    "seconds",
    "bytes",
    "messages",
    "rows",
    "changes",
    "records",
    "windows",
    "ratio",
    "info",
    "connectors",
    "schemas",
    "batches",
    "events",
    "state",
    "count",
    "per_minute",  # a rate over a recent window (link health's dead letters)
)

#: Labels a metric may carry: bounded by the number of institutions, feeds and stages.
BOUNDED_LABELS = frozenset(
    {
        "institution",
        "connector",
        "system",
        "table",
        "entity",
        "op",
        "status",
        "topic",
        "group",
        "direction",
        "stage",
        "hop",
        "kind",
        "severity",
        "reason",
        "target",
        "method",
        "path",
        "route",
        "code",
        "outcome",
        "partition",
    }
)

_WHAT = re.compile(r"^[a-z][a-z0-9_]*$")


class MetricNamer:
    def __init__(self, stage: str, registry: CollectorRegistry) -> None:
        if stage not in STAGES:
            raise MetricNameError(f"unknown stage {stage!r}; one of {sorted(STAGES)}")
        self.stage = stage
        self.registry = registry

    def name(self, what: str, *, counter: bool = False) -> str:
        if not _WHAT.match(what):
            raise MetricNameError(f"metric part {what!r}: lower case letters, digits, _")
        if counter:
            if not what.endswith("_total"):
                raise MetricNameError(f"counter {what!r} must end in _total")
        elif not what.endswith(UNITS):
            raise MetricNameError(f"metric {what!r} must end in a unit: {', '.join(UNITS)}")
        return f"streamhub_{self.stage}_{what}"

    def counter(self, what: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(
            self.name(what, counter=True), doc, self._labels(labels), registry=self.registry
        )

    def gauge(self, what: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(self.name(what), doc, self._labels(labels), registry=self.registry)

    def histogram(
        self, what: str, doc: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> Histogram:
        return Histogram(
            self.name(what), doc, self._labels(labels), buckets=buckets, registry=self.registry
        )

    @staticmethod
    def _labels(labels: Sequence[str]) -> tuple[str, ...]:
        unbounded = [label for label in labels if label not in BOUNDED_LABELS]
        if unbounded:
            raise MetricNameError(f"labels {unbounded} are not in the bounded set")
        return tuple(labels)


def process_wide(build: Callable[[], T]) -> Callable[[], T]:
    """``build`` run once per process, on first use, whichever thread comes first: a stage's
    metrics live in the default registry, where registering them twice raises (and
    ``functools.cache`` lets two threads that arrive together both build)."""
    lock = threading.Lock()
    built: list[T] = []

    @wraps(build)
    def once() -> T:
        if not built:
            with lock:
                if not built:
                    built.append(build())
        return built[0]

    return once
