"""``streamhub health --serve``: check every interval, export the gauges, log changes."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, start_http_server

from streamhub.config import Settings
from streamhub.errors import StreamhubError
from streamhub.health.errors import HealthError
from streamhub.health.evaluate import evaluate
from streamhub.health.exporter import HealthCollector
from streamhub.health.gather import gather
from streamhub.health.model import Status
from streamhub.health.thresholds import Thresholds
from streamhub.log import get_logger

log = get_logger(__name__)


def serve(
    settings: Settings,
    limits: Thresholds,
    *,
    port: int,
    interval_s: float,
    stop: threading.Event,
) -> None:
    """Refresh until ``stop``; a failed check keeps the last gauges and counts the failure."""
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
    while not stop.is_set():
        try:
            observation = gather(settings, limits)
            healths = evaluate(observation, limits)
        except StreamhubError as exc:
            collector.failures += 1
            log.error("link health check failed", extra={"error": str(exc)})
        else:
            collector.failures = 0
            collector.update(healths, observation)
            for h in healths:
                if last.get(h.institution_id) != h.overall:
                    (log.warning if h.overall else log.info)(
                        "link status changed",
                        extra={
                            "institution": h.institution_id,
                            "status": h.overall.label,
                            "reason": h.reason,
                        },
                    )
                last[h.institution_id] = h.overall
        stop.wait(interval_s)
