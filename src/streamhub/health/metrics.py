"""Names of the link-health gauges, ``streamhub_health_*``, built by the one namer.

The gauges are computed at scrape time from the last check (:mod:`.exporter`), so nothing
is registered here: the namer only names them, and whoever reads them (dashboards, alert
rules, the demo's summary, tests) takes the names from these constants.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streamhub.core.metrics import MetricNamer

# names only: the collector yields its own families, nothing is registered with this namer
_NAMER = MetricNamer("health", CollectorRegistry())

CHECK_FAILURES = _NAMER.name("check_failures_count")
LINK_STATE = _NAMER.name("link_state")
HOP_STATE = _NAMER.name("hop_state")
HEARTBEAT_AGE = _NAMER.name("heartbeat_age_seconds")
SOURCE_LAG = _NAMER.name("source_lag_seconds")
CONSUMER_LAG = _NAMER.name("consumer_lag_messages")
DEAD_LETTERS = _NAMER.name("dead_letters_per_minute")
LANDING_FRESHNESS = _NAMER.name("landing_freshness_seconds")
CHECKED = _NAMER.name("checked_timestamp_seconds")
