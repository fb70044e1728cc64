"""Fill an :class:`Observation` from Kafka (and, for silent connectors, a TCP probe).

ClickHouse is not read: the embedded engine belongs to the running lander, which publishes
what it landed on ops.landed_counts instead.
"""

from __future__ import annotations

import socket
from collections import defaultdict
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import load_connectors
from streamhub.capture.errors import ConnectorConfigError
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.clock import now_ms as wall_ms
from streamhub.core.topic_names import (
    DEAD_LETTER_TOPICS,
    HEARTBEAT,
    LANDED_COUNTS,
    RAW_TOPICS,
    SOURCE_COUNTS,
)
from streamhub.health.errors import HealthError
from streamhub.health.model import ActivityWindow, Beat, Connector, Observation, TopicLag
from streamhub.health.reading import KafkaReader
from streamhub.health.thresholds import Thresholds
from streamhub.kafka.reading import Message
from streamhub.land.targets import DEFAULT_ROUTES
from streamhub.log import get_logger
from streamhub.serde.avro_serde import AvroSerde
from streamhub.serde.errors import RegistryUnavailableError, SerdeError

log = get_logger(__name__)
PROBE_TIMEOUT_S = 1.0


def _skip_connector_file(exc: ConnectorConfigError) -> None:
    # one bad file must not take the console, `status` and the health server down with it
    log.error("connector file skipped: invalid", extra={"error": str(exc)})


def configured_connectors(settings: Settings) -> list[Connector]:
    return (
        [
            Connector(
                name=c.name,
                institution_id=c.institution_id,
                system=c.system,
                institution_name=c.institution_name,
                host=c.connection.host,
                port=c.connection.port,
            )
            for c in load_connectors(settings.connectors_path, on_error=_skip_connector_file)
        ]
        if settings.connectors_path.is_dir()
        else []
    )


def gather(
    settings: Settings,
    limits: Thresholds,
    now_ms: int | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Observation:
    """Read everything health needs at ``now_ms`` (the clock's time when None); an
    unreachable Kafka is an observation, not an error."""
    now_ms = now_ms if now_ms is not None else wall_ms(clock)
    since_ms = now_ms - int(limits.horizon_s * 1000)
    configured = configured_connectors(settings)
    base: dict[str, Any] = {
        "now_ms": now_ms,
        "since_ms": since_ms,
        "standardize_group": settings.standardize_group,
        "lander_group": settings.lander_group,
    }
    try:
        reader = KafkaReader(settings.kafka_bootstrap)
    except HealthError as exc:
        return Observation(**base, connectors=tuple(configured), kafka_error=str(exc))
    try:
        serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))

        def values(topics: list[str], since: int) -> list[dict[str, Any]]:
            return [_decode(serde, m) for m in reader.since(topics, since)]

        beats, heard = _beats(values([HEARTBEAT], since_ms))
        # an institution's connector files are its truth: a connector heard of only through
        # old heartbeats (renamed, removed) is not its connector any more; heartbeats do add
        # institutions whose files live elsewhere (another agent's host)
        filed = {c.institution_id for c in configured}
        connectors = {c.name: c for c in heard if c.institution_id not in filed} | {
            c.name: c for c in configured
        }
        recent_ms = now_ms - int(limits.recent_s * 1000)
        observation = Observation(
            **base,
            connectors=tuple(sorted(connectors.values(), key=lambda c: c.name)),
            beats=beats,
            unreachable=_probe_silent(configured, beats, now_ms, limits),
            lags=tuple(_lags(settings, reader)),
            missing_topics=frozenset(t for t in RAW_TOPICS if t not in reader.topics),
            dead_letters=_dead_letters(values(list(DEAD_LETTER_TOPICS), recent_ms)),
            landed_commit_ms=_landed(values([LANDED_COUNTS], since_ms)),
            activity=_activity(values([SOURCE_COUNTS], since_ms), connectors),
        )
    finally:
        reader.close()
    return observation


def _decode(serde: AvroSerde, message: Message) -> dict[str, Any]:
    try:
        # a tombstone (no value) is undecodable like any foreign message
        value: dict[str, Any] = serde.decode(message.value or b"").value
    except RegistryUnavailableError as exc:
        raise HealthError(f"cannot decode {message.topic}: {exc}") from exc
    except SerdeError as exc:  # one foreign or corrupt message must not hide the rest
        log.warning(
            "undecodable message skipped", extra={"topic": message.topic, "error": str(exc)}
        )
        return {}
    return value


def _beats(
    records: list[dict[str, Any]],
) -> tuple[dict[str, tuple[Beat, ...]], list[Connector]]:
    series: dict[str, list[Beat]] = defaultdict(list)
    owners: dict[str, Connector] = {}
    for r in records:
        if "connector" not in r or "emitted_ts_ms" not in r:
            continue
        series[r["connector"]].append(
            Beat(
                emitted_ts_ms=r["emitted_ts_ms"],
                state=r["state"],
                events_total=r["events_total"],
                errors_total=r["errors_total"],
                lag_bytes=r.get("lag_bytes"),
                lag_ms=r.get("lag_ms"),
                last_event_ts_ms=r.get("last_event_ts_ms"),
            )
        )
        owners[r["connector"]] = Connector(r["connector"], r["institution_id"], r["system"])
    ordered = {name: tuple(sorted(s, key=lambda b: b.emitted_ts_ms)) for name, s in series.items()}
    return ordered, list(owners.values())


def _probe_silent(
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


def _lags(settings: Settings, reader: KafkaReader) -> list[TopicLag]:
    ops_topics = sorted(t for t in reader.topics if t.startswith(("ops.", "dlq.", "std.")))
    return [
        *reader.group_lags(settings.standardize_group, list(RAW_TOPICS)),
        *reader.group_lags(settings.lander_group, list(DEFAULT_ROUTES)),
        # their inputs are theirs to choose: report the topics they committed on
        *reader.group_lags(settings.reconcile_group, ops_topics, uncommitted=False),
        *reader.group_lags(settings.anomaly_group, ops_topics, uncommitted=False),
    ]


def _dead_letters(records: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in records:
        if r.get("institution_id") and r.get("stage"):
            counts[(r["institution_id"], r["stage"])] += 1
    return dict(counts)


def _landed(records: list[dict[str, Any]]) -> dict[str, int]:
    """Newest landed commit per institution: the end of the newest landed minute, or the
    landing time when that minute was still running."""
    newest: dict[str, int] = {}
    for r in records:
        if "window_start_ms" not in r:
            continue
        commit = min(r["window_start_ms"] + r.get("window_ms", 60_000), r["landed_ts_ms"])
        institution = r["institution_id"]
        newest[institution] = max(newest.get(institution, commit), commit)
    return newest


def _activity(
    records: list[dict[str, Any]], connectors: dict[str, Connector]
) -> tuple[ActivityWindow, ...]:
    windows = set()
    for r in records:
        if r.get("row_count") is not None or "window_start_ms" not in r:
            continue  # a row-count reading, not changes
        changes = r["inserts"] + r["updates"] + r["deletes"] + r.get("snapshot_reads", 0)
        if changes:
            windows.add(ActivityWindow(r["institution_id"], r["window_start_ms"], r["window_ms"]))
    return tuple(sorted(windows, key=lambda w: (w.institution_id, w.window_start_ms)))
