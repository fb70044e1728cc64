"""``streamhub health --serve``: check every interval, export the gauges, log changes."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, start_http_server

from streamhub.config import Settings
from streamhub.errors import StreamhubError
from streamhub.health.errors import HealthError
from streamhub.health.evaluate import evaluate
from streamhub.health.exporter import HealthCollector
from streamhub.health.model import InstitutionHealth, Status
from streamhub.health.refresh import HealthReader
from streamhub.health.summary import summarize
from streamhub.health.thresholds import Thresholds
from streamhub.kafka import probes
from streamhub.log import get_logger

log = get_logger(__name__)

MAX_CHANGE_LINES = 20  # more changes at once are logged as one summary line


def serve(
    settings: Settings,
    limits: Thresholds,
    *,
    port: int,
    interval_s: float,
    stop: threading.Event,
) -> None:
    """Refresh until ``stop``; a failed check keeps the last gauges and counts the failure.

    One reader is kept between checks: each reads only what the ops topics got since the
    last one (the horizon once, at start)."""
    collector = HealthCollector()
    registry = CollectorRegistry()
    registry.register(collector)
    try:
        start_http_server(port, addr=settings.metrics_host, registry=registry)
    except OSError as exc:
        raise HealthError(
            f"cannot serve metrics on {settings.metrics_host}:{port} ({exc.strerror}); "
            "is another `streamhub health --serve` running? choose --metrics-port"
        ) from exc
    last: dict[str, Status] = {}
    probes.start_from_env(settings, loops=("health",))
    reader = HealthReader(settings, limits)
    try:
        _check_until(stop, reader, collector, limits, last, interval_s)
    finally:
        reader.close()


def _check_until(
    stop: threading.Event,
    reader: HealthReader,
    collector: HealthCollector,
    limits: Thresholds,
    last: dict[str, Status],
    interval_s: float,
) -> None:
    while not stop.is_set():
        try:
            observation = reader.refresh()
            healths = evaluate(observation, limits)
        except StreamhubError as exc:
            collector.failures += 1
            log.error("link health check failed", extra={"error": str(exc)})
        else:
            collector.failures = 0
            collector.update(healths, observation)
            _log_changes(healths, last)
        probes.beat("health")
        stop.wait(interval_s)


def _log_changes(healths: list[InstitutionHealth], last: dict[str, Status]) -> None:
    """One line per institution whose status changed; one line for them all at the first
    check or when many change at once (a province's Kafka outage is one event, not 1,751)."""
    changed = [h for h in healths if last.get(h.institution_id) != h.overall]
    first = not last
    last.clear()
    last.update((h.institution_id, h.overall) for h in healths)
    if not changed:
        return
    if first or len(changed) > MAX_CHANGE_LINES:
        summary = summarize(changed, worst_n=MAX_CHANGE_LINES)
        (log.warning if summary.worst_status else log.info)(
            "link status" if first else "link status changed",
            extra={
                "institutions": summary.total,
                **summary.counts,
                "worst": [h.institution_id for h in summary.worst],
            },
        )
        return
    for h in changed:
        (log.warning if h.overall else log.info)(
            "link status changed",
            extra={"institution": h.institution_id, "status": h.overall.label, "reason": h.reason},
        )
