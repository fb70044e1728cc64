"""TCP probes of the databases of silent connectors, and only those."""

from __future__ import annotations

import socket

from streamhub.health.model import Beat, Connector
from streamhub.health.thresholds import Thresholds

PROBE_TIMEOUT_S = 1.0


def probe_silent(
    configured: list[Connector],
    beats: dict[str, tuple[Beat, ...]],
    now_ms: int,
    limits: Thresholds,
) -> dict[str, str]:
    """TCP-connect the databases of connectors whose heartbeat is late, and only those: a
    probe every refresh would fill hospital database logs with aborted connections."""
    unreachable = {}
    for connector in configured:
        series = beats.get(connector.name)
        late = not series or now_ms - series[-1].emitted_ts_ms >= limits.heartbeat_degraded_s * 1000
        if not late or connector.host is None or connector.port is None:
            continue
        try:
            socket.create_connection((connector.host, connector.port), PROBE_TIMEOUT_S).close()
        except OSError as exc:
            unreachable[connector.name] = exc.strerror or type(exc).__name__
    return unreachable
