"""Heartbeats of Debezium-captured sources on ``ops.heartbeat``, as the agent writes its own.

A Debezium connector's pulse is what Kafka Connect says of it (connector and task states,
the failed task's trace) and what the normalizer has carried of it (envelopes, dead letters,
the last commit time and position). Every ``heartbeat_s`` of the connector file the normalizer
writes one ``ops.heartbeat`` record per connector, so link health and the console treat the
source like an agent-captured one:

* tasks all RUNNING → ``streaming``;
* connector or a task FAILED → ``failed`` (Connect's error, first line of the trace, is logged
  and counted in ``errors_total``);
* PAUSED, STOPPED, UNASSIGNED, RESTARTING, or no task → ``paused``;
* Connect unreachable, or the connector unknown to it → ``failed``: nothing captures the source;
* tasks RUNNING but Debezium's own heartbeats on ``dbz.heartbeat`` overdue → ``failed``: the
  task is retrying a source it cannot reach (a stopped database, a refused login), which
  Connect still calls RUNNING (:mod:`streamhub.debezium.heartbeat_watch` says when, and why).

Whenever the state is not ``streaming`` the heartbeat's ``error`` says why in Connect's words
(link health shows it): one line, at most :data:`ERROR_CHARS` characters, with anything that
looks like a credential masked (:func:`streamhub.secrets_mask.mask_text`). Connect's traces can
quote connector config values; only the first line of the exception message is kept.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Producer

from streamhub.capture.connector import ConnectorConfig
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.core.topic_names import HEARTBEAT
from streamhub.debezium.heartbeat_watch import HeartbeatWatch
from streamhub.log import get_logger
from streamhub.secrets_mask import mask_text
from streamhub.serde.avro_serde import AvroSerde, RegisteredWriter

log = get_logger(__name__)

#: the longest ``error`` a heartbeat carries (Connect's first line, masked, then cut)
ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class ConnectStatus:
    """A connector's state as Kafka Connect reports it (``GET /connectors/{name}/status``)."""

    connector: str  # RUNNING, PAUSED, STOPPED, FAILED, UNASSIGNED, RESTARTING
    tasks: tuple[str, ...]
    error: str | None = None  # first line of the first failure's trace

    @classmethod
    def from_rest(cls, answer: dict[str, Any]) -> ConnectStatus:
        connector = answer.get("connector") or {}
        tasks = [t for t in answer.get("tasks") or [] if isinstance(t, dict)]
        traces = [str(x.get("trace") or "") for x in (connector, *tasks) if x.get("trace")]
        lines = traces[0].strip().splitlines() if traces else []
        error = lines[0] if lines else None
        return cls(
            str(connector.get("state", "UNASSIGNED")),
            tuple(str(t.get("state", "UNASSIGNED")) for t in tasks),
            error,
        )


def heartbeat_state(status: ConnectStatus | None) -> tuple[str, str | None]:
    """(``ops.heartbeat`` state, why when not streaming) of a Connect status (None:
    unreachable or unknown connector)."""
    if status is None:
        return "failed", "Kafka Connect does not run this connector (unreachable or unknown)"
    if status.connector == "FAILED" or "FAILED" in status.tasks:
        return "failed", status.error or "a task failed (no trace given)"
    if status.connector == "RUNNING" and status.tasks and set(status.tasks) == {"RUNNING"}:
        return "streaming", None
    states = ", ".join(status.tasks) or "no task"
    return "paused", f"connector {status.connector}, tasks: {states}"


def error_text(why: str | None) -> str | None:
    """``why`` as a heartbeat carries it: the first line, credentials masked, cut to
    :data:`ERROR_CHARS` (a cut ends with ``…``)."""
    if not why or not why.strip():
        return None
    line = mask_text(why.strip().splitlines()[0].strip())
    return line if len(line) <= ERROR_CHARS else line[: ERROR_CHARS - 1] + "…"


def fetch_status(connect_url: str, name: str, timeout_s: float = 5.0) -> ConnectStatus | None:
    """The connector's status from Connect's REST API; None if Connect cannot say."""
    url = f"{connect_url.rstrip('/')}/connectors/{urllib.parse.quote(name, safe='')}/status"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:  # noqa: S310 - http(s)
            document = json.loads(answer.read().decode())
    except (OSError, ValueError):  # URLError/HTTPError are OSErrors; bad JSON a ValueError
        return None
    return ConnectStatus.from_rest(document) if isinstance(document, dict) else None


@dataclass
class Carried:
    """What the normalizer has carried of one connector since it started (thread-safe)."""

    events_total: int = 0
    errors_total: int = 0
    last_commit_ts_ms: int | None = None
    position: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def carried(self, commit_ts_ms: int, position: str) -> None:
        with self._lock:
            self.events_total += 1
            if self.last_commit_ts_ms is None or commit_ts_ms >= self.last_commit_ts_ms:
                self.last_commit_ts_ms, self.position = commit_ts_ms, position

    def rejected(self) -> None:
        with self._lock:
            self.events_total += 1
            self.errors_total += 1


def heartbeat_record(
    config: ConnectorConfig,
    status: ConnectStatus | None,
    carried: Carried,
    connect_failures: int,
    now: int,
    silent: str | None = None,
) -> dict[str, Any]:
    """The ``ops.heartbeat`` record (``avro_schemas/ops/heartbeat.avsc``) of one connector
    (``silent``: why its Debezium heartbeats are overdue, which fails a RUNNING connector)."""
    state, why = heartbeat_state(status)
    if state == "streaming" and silent:
        state, why = "failed", silent
    with carried._lock:
        return {
            "connector": config.name,
            "institution_id": config.institution_id,
            "system": config.system,
            "engine": config.engine,
            "state": state,
            "position": carried.position,
            "lag_bytes": None,
            "lag_ms": None,
            "last_event_ts_ms": carried.last_commit_ts_ms,
            "events_total": carried.events_total,
            "errors_total": carried.errors_total + connect_failures,
            "emitted_ts_ms": now,
            "error": error_text(why),
        }


class Heartbeats:
    """Writes every connector's heartbeat each ``interval_s`` until stopped."""

    def __init__(
        self,
        configs: Sequence[tuple[ConnectorConfig, Carried]],
        producer: Producer,
        serde: AvroSerde,
        writer: RegisteredWriter,
        status: Callable[[str], ConnectStatus | None],
        clock: Clock = SYSTEM_CLOCK,
        watch: HeartbeatWatch | None = None,
    ) -> None:
        self.configs = list(configs)
        self.watch = watch
        self.producer = producer
        self.serde = serde
        self.writer = writer
        self.status = status
        self.clock = clock
        self._failures: dict[str, int] = {}
        self._last_error: dict[str, str | None] = {}

    def beat(self) -> list[dict[str, Any]]:
        """One heartbeat per connector, produced (not waited for); returns the records."""
        records = []
        if self.watch is not None:
            self.watch.drain()
        for config, carried in self.configs:
            status = self.status(config.name)
            state, why = heartbeat_state(status)
            silent = None
            if self.watch is not None:
                silent = self.watch.silent(config.name, state == "streaming")
                if silent:
                    state, why = "failed", silent
            # the silence's text grows with its age: one silence counts (and logs) once
            cause = "silent" if silent else why
            if state == "failed" and self._last_error.get(config.name) != cause:
                self._failures[config.name] = self._failures.get(config.name, 0) + 1
                # Connect's own words: the operator's first clue (never a row value in them)
                log.error(
                    "Debezium connector not capturing",
                    extra={"connector": config.name, "state": state, "error": error_text(why)},
                )
            self._last_error[config.name] = cause if state == "failed" else None
            record = heartbeat_record(
                config,
                status,
                carried,
                self._failures.get(config.name, 0),
                now_ms(self.clock),
                silent,
            )
            key = json.dumps({"connector": config.name}, sort_keys=True).encode()
            self.producer.produce(HEARTBEAT, self.serde.encode(self.writer, record), key)
            records.append(record)
        self.producer.poll(0)
        return records

    def run(self, stop: threading.Event, interval_s: float) -> None:
        while not stop.is_set():
            try:
                self.beat()
            except Exception as exc:  # a heartbeat never stops the normalizer; it shows as silence
                log.warning("heartbeat not written", extra={"error": repr(exc)})
            stop.wait(interval_s)
        self.producer.flush(10)
        if self.watch is not None:
            self.watch.close()
