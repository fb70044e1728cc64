"""``streamhub quality orders run``: evaluate every N seconds and export the metrics."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from streamhub.quality.errors import QualityError
from streamhub.quality.orders_engine import Evaluation, OrderEngine
from streamhub.quality.orders_metrics import OrderMetrics
from streamhub.quality.period import parse_period
from streamhub.quality.scores import Counts, scope_counts

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def month_scores(client: Client, now_ms: int) -> dict[str, float]:
    """The overall 0-100 score of the current month (Shanghai) per institution."""
    month = datetime.fromtimestamp(now_ms / 1000, SHANGHAI).strftime("%Y-%m")
    totals: dict[str, Counts] = defaultdict(Counts)
    for (inst, _, _), counts in scope_counts(client, parse_period(month)).items():
        totals[inst] = totals[inst] + counts
    return {inst: c.scores()["overall"] for inst, c in totals.items()}


def evaluate_and_export(engine: OrderEngine, metrics: OrderMetrics | None) -> Evaluation:
    """One evaluation; with ``metrics``, the gauges set from its outcome."""
    try:
        result = engine.evaluate()
    except QualityError:
        if metrics is not None:
            metrics.evaluations.labels("failed").inc()
        raise
    if metrics is not None:
        now = engine.store.now_ms()
        scores = month_scores(engine.store.client, now)
        metrics.export(result.active, scores, now, {o.institution_id for o in result.closed})
        metrics.evaluations.labels("ok").inc()
    return result


def run_loop(
    engine: OrderEngine,
    metrics: OrderMetrics | None,
    every_s: float,
    stop: threading.Event,
    report: Callable[[Evaluation], None],
) -> int:
    """Evaluate until ``stop`` is set; a failed evaluation is logged and retried next round.
    Returns the number of failed evaluations."""
    failures = 0
    while not stop.is_set():
        try:
            report(evaluate_and_export(engine, metrics))
        except QualityError as exc:
            failures += 1
            log.error("work order evaluation failed: %s", exc)
        stop.wait(every_s)
    return failures
