"""Reading the ops topics for link health: once for a check, or on and on for the exporter.

:class:`HealthReader` reads the horizon once (:mod:`.first_read` decodes only the records
that can matter), then each :meth:`~HealthReader.refresh` reads only what was written since
the last one, from where it stopped, into an :class:`~.ops_state.OpsState` that slides with
the horizon. ``streamhub health`` makes one refresh (:func:`.gather.gather`);
``streamhub health --serve`` and the console keep one reader between checks.

A failed read forgets the state (the next refresh reads the horizon again): a half-read
refresh must not count dead letters twice.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Message
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.clock import now_ms as wall_ms
from streamhub.core.topic_names import RAW_TOPICS
from streamhub.health import first_read
from streamhub.health.connector_files import ConnectorFiles
from streamhub.health.errors import HealthError
from streamhub.health.first_read import stamp
from streamhub.health.model import Connector, Observation, OpsTopics, TopicLag
from streamhub.health.ops_state import OpsState
from streamhub.health.probe import probe_silent
from streamhub.health.reading import KafkaReader
from streamhub.health.thresholds import Thresholds
from streamhub.kafka.reading import Offsets
from streamhub.land.targets import DEFAULT_ROUTES
from streamhub.log import get_logger
from streamhub.serde.avro_serde import AvroSerde
from streamhub.serde.errors import RegistryUnavailableError, SerdeError

log = get_logger(__name__)

#: heartbeats this much older than the recent window are still read whole: a beat's Kafka
#: timestamp (set when the agent produces it) trails its emission time by milliseconds
BEAT_MARGIN_MS = 10_000


class HealthReader:
    """Link-health observations from Kafka, read incrementally; one thread at a time."""

    def __init__(
        self,
        settings: Settings,
        limits: Thresholds,
        *,
        topics: OpsTopics | None = None,
        clock: Clock = SYSTEM_CLOCK,
        one_shot: bool = False,
    ) -> None:
        self.settings = settings
        self.limits = limits
        self.topics = topics or OpsTopics()
        self.clock = clock
        # one check only: minutes already landed are not even decoded (a reader that goes
        # on keeps them, since a landing that leaves the horizon makes them count again)
        self.one_shot = one_shot
        self.files = ConnectorFiles(settings.connectors_path)
        self._reader: KafkaReader | None = None
        self._serde: AvroSerde | None = None
        self._state = OpsState()
        self._positions: Offsets = {}  # next offset to read, per ops partition

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def refresh(self, now_ms: int | None = None) -> Observation:
        """The observation at ``now_ms`` (the clock's time when None); an unreachable Kafka
        is an observation, not an error."""
        now_ms = now_ms if now_ms is not None else wall_ms(self.clock)
        since_ms = now_ms - int(self.limits.horizon_s * 1000)
        recent_from = now_ms - int(self.limits.recent_s * 1000)
        configured = self.files.connectors()
        base: dict[str, Any] = {
            "now_ms": now_ms,
            "since_ms": since_ms,
            "standardize_group": self.settings.standardize_group,
            "lander_group": self.settings.lander_group,
        }
        try:
            reader = self._connected()
        except HealthError as exc:
            return Observation(**base, connectors=tuple(configured), kafka_error=str(exc))
        try:
            self._read(reader, configured, since_ms, recent_from)
            view = self._state.view(since_ms, recent_from)
            # an institution's connector files are its truth: a connector heard of only
            # through old heartbeats (renamed, removed) is not its connector any more;
            # heartbeats do add institutions whose files live elsewhere (another agent's host)
            filed = {c.institution_id for c in configured}
            connectors = {c.name: c for c in view.heard if c.institution_id not in filed} | {
                c.name: c for c in configured
            }
            return Observation(
                **base,
                connectors=tuple(sorted(connectors.values(), key=lambda c: c.name)),
                beats=view.beats,
                unreachable=probe_silent(configured, view.beats, now_ms, self.limits),
                lags=tuple(self._lags(reader)),
                missing_topics=frozenset(t for t in RAW_TOPICS if t not in reader.topics),
                dead_letters=view.dead_letters,
                landed_commit_ms=view.landed_commit_ms,
                activity=view.activity,
            )
        except BaseException:
            self._forget()
            raise

    # --- reading -----------------------------------------------------------------------

    def _connected(self) -> KafkaReader:
        if self._reader is None:
            self._reader = KafkaReader(self.settings.kafka_bootstrap)
            self._serde = AvroSerde(SchemaRegistryClient({"url": self.settings.registry_url}))
        else:
            try:
                self._reader.new_check()
            except HealthError:
                self._forget()
                raise
        return self._reader

    def _forget(self) -> None:
        self.close()
        self._state = OpsState()
        self._positions = {}

    def _read(
        self, reader: KafkaReader, configured: list[Connector], since_ms: int, recent_from: int
    ) -> None:
        """Everything written since the last refresh (the horizon on the first), to the ends
        the topics have now; the next refresh goes on from there."""
        topics = self.topics
        state = self._state
        decode = self._decode
        ends = reader.ends(
            [topics.heartbeat, topics.landed_counts, topics.source_counts, *topics.dead_letters]
        )
        first, rest = self._unread(reader, [topics.heartbeat], since_ms, ends)
        # partitions read for the first time: before the recent window (and a margin) only
        # each connector's newest beat matters
        split = reader.starts([topics.heartbeat], recent_from - BEAT_MARGIN_MS)
        older_ends = {where: split.get(where, ends[where]) for where in first}
        for message in first_read.last_per_key(reader.scan(first, older_ends)):
            state.heartbeat(stamp(message), decode(message))
        recent = {where: max(start, older_ends[where]) for where, start in first.items()}
        for message in reader.scan({**recent, **rest}, ends):
            state.heartbeat(stamp(message), decode(message))

        first, rest = self._unread(reader, [topics.landed_counts], since_ms, ends)
        for ts, record in first_read.landed_counts(reader.scan(first, ends), decode):
            state.landed(ts, record)
        for message in reader.scan(rest, ends):
            state.landed(stamp(message), decode(message))

        first, rest = self._unread(reader, [topics.source_counts], since_ms, ends)
        if self.one_shot:
            landed = state.landed_commits(since_ms)
            fed = first_read.source_counts(
                reader.scan(first, ends),
                decode,
                first_read.institutions_of([*configured, *state.heard()]),
                lambda institution: max(landed.get(institution, since_ms), since_ms),
            )
        else:
            fed = ((stamp(m), decode(m)) for m in reader.scan(first, ends))
        for ts, record in fed:
            state.source_counts(ts, record)
        for message in reader.scan(rest, ends):
            state.source_counts(stamp(message), decode(message))

        first, rest = self._unread(reader, list(topics.dead_letters), recent_from, ends)
        for message in reader.scan({**first, **rest}, ends):
            state.dead_letter(stamp(message), decode(message))
        self._positions.update(ends)

    def _unread(
        self, reader: KafkaReader, topics: list[str], since_ms: int, ends: Offsets
    ) -> tuple[Offsets, Offsets]:
        """(partitions never read: their first offset stamped ``since_ms`` or later,
        partitions read before: their next offset, or the first still held once retention
        deleted it)."""
        partitions = reader.partitions(topics)
        fresh = [where for where in partitions if where not in self._positions]
        starts = reader.starts(topics, since_ms) if fresh else {}
        # a partition with nothing that late is read from its end on
        first = {where: starts.get(where, ends[where]) for where in fresh}
        lows = reader.lows(topics)
        rest = {
            where: max(self._positions[where], lows[where])
            for where in partitions
            if where in self._positions
        }
        return first, rest

    def _decode(self, message: Message) -> dict[str, Any]:
        serde = self._serde
        assert serde is not None  # set with the reader
        try:
            # a tombstone (no value) is undecodable like any foreign message
            value: dict[str, Any] = serde.decode(message.value() or b"").value
        except RegistryUnavailableError as exc:
            raise HealthError(f"cannot decode {message.topic()}: {exc}") from exc
        except SerdeError as exc:  # one foreign or corrupt message must not hide the rest
            log.warning(
                "undecodable message skipped", extra={"topic": message.topic(), "error": str(exc)}
            )
            return {}
        return value

    def _lags(self, reader: KafkaReader) -> list[TopicLag]:
        settings = self.settings
        ops_topics = sorted(t for t in reader.topics if t.startswith(("ops.", "dlq.", "std.")))
        return [
            *reader.group_lags(settings.standardize_group, list(RAW_TOPICS)),
            *reader.group_lags(settings.lander_group, list(DEFAULT_ROUTES)),
            # their inputs are theirs to choose: report the topics they committed on
            *reader.group_lags(settings.reconcile_group, ops_topics, uncommitted=False),
            *reader.group_lags(settings.anomaly_group, ops_topics, uncommitted=False),
        ]
