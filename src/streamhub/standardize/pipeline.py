"""The standardizer: a batch of raw change envelopes -> std records, quality events, dead letters.

Per message: decode the envelope, find the connector that captured it and that
connector's mapping profile, map the row, run the checks on the clear values,
pseudonymize, and encode the standard record: a plain dict as the canonical model would
dump it (record_builder.py; the model itself judges only what the mapping did not type
exactly). What is the same for a whole batch (the clock, the writers, the topics) is read
once per batch or once at start, not per record. Every input yields at least one
output; what cannot be standardized at all becomes a dead letter with the raw
envelope and the reason. Exceptions that are not about the record (registry or
broker down) propagate, so the batch is retried rather than dead-lettered.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.schema_registry import SchemaRegistryClient
from pydantic import ValidationError

from streamhub.capture.connector import ConnectorConfig, load_connectors
from streamhub.capture.errors import ConnectorConfigError
from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.core.dead_letter import DeadLetterRecord, Original, Placement
from streamhub.core.identity import canonical_key, further_record_id, version_id
from streamhub.core.topic_names import DLQ_STANDARDIZE, QUALITY, STANDARDIZED_COUNTS
from streamhub.core.window_counts import WindowCounts
from streamhub.errors import ConfigError
from streamhub.serde.avro_serde import AvroSerde, RegisteredWriter
from streamhub.serde.errors import (
    CorruptMessageError,
    RegistryUnavailableError,
    UnknownSchemaError,
    UnsupportedWireFormatError,
)
from streamhub.serde.wire import MessageRef
from streamhub.standardize.avro_schema import std_schema
from streamhub.standardize.checks import check
from streamhub.standardize.envelope_check import check_envelope
from streamhub.standardize.errors import (
    StandardizeError,
    UnexpectedRecordError,
    UnknownConnectorError,
    UnreadableEnvelopeError,
)
from streamhub.standardize.issues import Issue
from streamhub.standardize.mapper import MappedRow, map_further, map_row
from streamhub.standardize.messages import OutMessage, RawMessage
from streamhub.standardize.metrics import StandardizeMetrics, standardize_metrics
from streamhub.standardize.model import ENTITY_MODELS, std_topic
from streamhub.standardize.profile import Profile, load_profiles
from streamhub.standardize.pseudonym import Pseudonymizer
from streamhub.standardize.record_builder import RecordBuilder

log = logging.getLogger(__name__)

RELOAD_EVERY_S = 10.0
# message keys whose row key (canonical JSON) is remembered: a row changed again within the
# last few thousand changes (an encounter's status, an order's steps) is not parsed again
SOURCE_KEYS_MAX = 8192
# not about the record: the batch is retried (then the worker exits), never dead-lettered
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    RegistryUnavailableError,
    KafkaException,
    ConfigError,
    OSError,
    MemoryError,
)


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


class Standardizer:
    """Implements :class:`~streamhub.standardize.messages.BatchProcessor`."""

    # ops.standardized_counts: off unless a topic is given (from_settings gives it)
    _counts_topic: str | None = None
    _counts: RegisteredWriter | None = None
    # the batch in hand's clock reading (epoch ms), taken once when it starts
    _batch_ms: int = 0
    _batch_time: datetime = datetime.fromtimestamp(0, tz=UTC)

    def __init__(
        self,
        serde: AvroSerde,
        connectors_dir: Path,
        profiles: dict[str, Profile],
        pseudonymizer: Pseudonymizer,
        project_dir: Path,
        clock: Clock = SYSTEM_CLOCK,
        counts_topic: str | None = None,
        metrics: StandardizeMetrics | None = None,
        *,
        check_with_model: bool = False,
    ) -> None:
        """``check_with_model`` builds every std record through its pydantic model (the
        reference the agreement test compares the plain-dict path with; slower)."""
        self._serde = serde
        self._connectors_dir = connectors_dir
        self._connectors: dict[str, ConnectorConfig] = {}
        self._connectors_read_at = float("-inf")
        # (institution, entity, outcome) -> records of the batch in hand, for the metric
        self._outcomes: Counter[tuple[str, str, str]] = Counter()
        self._profiles = profiles
        self._pseudonymizer = pseudonymizer
        self._clock = clock
        self._metrics = metrics or standardize_metrics()
        self._writers: dict[str, RegisteredWriter] = {
            entity: serde.register(f"{std_topic(entity)}-value", std_schema(model))
            for entity, model in ENTITY_MODELS.items()
        }
        self._builders = {entity: RecordBuilder(model) for entity, model in ENTITY_MODELS.items()}
        self._std_topics = {entity: std_topic(entity) for entity in ENTITY_MODELS}
        self._check_with_model = check_with_model
        self._drifted: set[tuple[str, str]] = set()  # (profile, entity) the model judged
        # message key -> the row's key as canonical JSON (_source_key), for recent rows
        self._source_keys: dict[bytes, str] = {}
        schemas = project_dir / "avro_schemas"
        self._quality = serde.register(f"{QUALITY}-value", load_schema(schemas, "ops/quality.avsc"))
        self._dead = serde.register(
            f"{DLQ_STANDARDIZE}-value", load_schema(schemas, "ops/dead_letter.avsc")
        )
        # counts of the batch in hand, published with its outputs when a topic is given
        self._counts_topic = counts_topic
        self._counted = WindowCounts()
        self._counts = (
            None
            if counts_topic is None
            else serde.register(
                f"{counts_topic}-value", load_schema(schemas, "ops/landed_counts.avsc")
            )
        )
        self._reload_connectors()

    @classmethod
    def from_settings(cls, settings: Settings) -> Standardizer:
        registry = SchemaRegistryClient({"url": settings.registry_url})
        return cls(
            AvroSerde(registry),
            settings.connectors_path,
            load_profiles(settings.profiles_path),
            Pseudonymizer.from_settings(settings),
            settings.project_dir,
            # what reached std.*, per source table and commit minute, in ops.landed_counts'
            # shape (with version ids): reconciliation's "standardized" column, where a gap sits
            counts_topic=STANDARDIZED_COUNTS,
        )

    def _reload_connectors(self) -> None:
        self._connectors_read_at = self._clock.monotonic()
        if self._connectors_dir.is_dir():
            self._connectors = {
                c.name: c
                for c in load_connectors(self._connectors_dir, on_error=_skip_connector_file)
            }

    # --- the batch ---------------------------------------------------------------------------

    def process(self, batch: Sequence[RawMessage]) -> list[OutMessage]:
        out: list[OutMessage] = []
        self._outcomes.clear()
        self._counted = WindowCounts()
        # one clock reading per batch: standardized_time, quality events, dead letters, counts
        self._batch_ms = now_ms(self._clock)
        self._batch_time = _ms(self._batch_ms)
        for message in batch:
            try:
                out.extend(self._standardize(message))
            except StandardizeError as exc:
                out.append(self._dead_letter(message, exc))
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as exc:  # a poison record must not stop the partition
                out.append(self._dead_letter(message, _unexpected(message, exc)))
        # one metric update per (institution, entity, outcome) of the batch, not per record
        for (institution, entity, outcome), count in self._outcomes.items():
            self._metrics.records.labels(
                institution=institution, entity=entity, outcome=outcome
            ).inc(count)
        out.extend(self._count_messages())
        return out

    @property
    def fallbacks(self) -> int:
        """Std records built through the pydantic model since start because the mapping did
        not type a value exactly as the model keeps it (see record_builder.py)."""
        return sum(builder.fallbacks for builder in self._builders.values())

    def _standardize(self, message: RawMessage) -> list[OutMessage]:
        envelope = self._decode(message)
        source = envelope["source"]
        profile = self._profile_for(source["connector"])
        op = envelope["op"]
        row = envelope["before"] if op == "d" else envelope["after"]
        if row is None:
            raise UnreadableEnvelopeError(f"{_ref(message)}: op {op} envelope has no row image")
        mapped = map_row(profile, source["table"], row)
        raw_key = message.key
        key_json = None if raw_key is None else self._source_keys.get(raw_key)
        if key_json is None:
            key_json = _source_key(message)  # raises for a key not the capture agent's
            if raw_key is not None:
                if len(self._source_keys) >= SOURCE_KEYS_MAX:
                    self._source_keys.clear()
                self._source_keys[raw_key] = key_json
        schema, database = source["schema"], source["database"]
        table = f"{schema}.{source['table']}" if schema else source["table"]
        institution = source["institution_id"]
        # the row's identity leaves only as keyed tokens (same row -> same id, across replays
        # and hosts); the clear key stays in cdc.raw.*
        tokens = self._pseudonymizer.identity
        row_id = tokens.record_id(institution, database, table, key_json)
        # the fields of StdRecord, in its order, shared by every record of the change
        change: dict[str, Any] = {
            "record_id": row_id,
            "institution_id": institution,
            "source_system": source["system"],
            "source_database": database,
            "source_table": table,
            "source_key": tokens.source_key(institution, database, table, key_json),
            "operation": op,
            "deleted": op == "d",
            "source_position": source["position"],
            "source_position_seq": source["position_seq"],
            "business_time": None,
            "commit_time": _ms(source["commit_ts_ms"]),
            "received_time": _ms(envelope["ts_ms"]),
            "standardized_time": self._batch_time,
            "cancelled": False,
            "quality_issues": [],
            "profile": profile.ref,
        }
        # the row's further entities (the profile's `also`), each a record of its own; a
        # further entity the row no longer holds (its key emptied: the embedded diagnosis
        # removed) is deleted. One failure dead-letters the whole change, so the change's
        # records are counted only once all of them are built.
        furthers = map_further(profile, source["table"], row)
        built = [self._record(message, profile, table, change, mapped)]
        for further, found in furthers:
            base = change.copy()
            base["record_id"] = further_record_id(row_id, further.entity)
            if found is None:
                base["deleted"] = True
                found = MappedRow(further.entity, {}, None, cancelled=False)
            built.append(self._record(message, profile, table, base, found))
        outputs: list[OutMessage] = []
        for entity, record, flagged, messages in built:
            self._outcomes[(institution, entity, "flagged" if flagged else "standardized")] += 1
            self._counted.add(entity, record)
            outputs.extend(messages)
        return outputs

    def _record(
        self,
        message: RawMessage,
        profile: Profile,
        table: str,
        base: dict[str, Any],
        mapped: MappedRow,
    ) -> tuple[str, dict[str, Any], bool, list[OutMessage]]:
        """One std record of the change: (entity, record, flagged, its message and quality
        events); ``base`` holds its StdRecord fields and is filled in (business time,
        cancelled, quality issues)."""
        institution = base["institution_id"]
        entity = mapped.entity
        # a delete carries the last image (on PostgreSQL perhaps only its key): nothing to judge
        issues: list[Issue] = []
        if not base["deleted"]:
            issues = [*mapped.issues, *check(entity, mapped.values)]
        values = self._pseudonymizer.protect(
            entity, mapped.values, mapped.business_time, institution_id=institution
        )
        base["business_time"] = mapped.business_time
        base["cancelled"] = mapped.cancelled
        base["quality_issues"] = sorted({issue.rule for issue in issues}) if issues else []
        builder = self._builders[entity]
        fallbacks = builder.fallbacks
        try:
            if self._check_with_model:
                record = builder.validated(base, values)
            else:
                record = builder.build(base, values)
        except ValidationError as exc:
            raise StandardizeError(
                f"{_ref(message)}: profile {profile.ref} maps {table} to values the {entity} "
                f"model refuses: {exc.errors(include_url=False, include_input=False)}"
            ) from exc
        finally:
            if builder.fallbacks != fallbacks and (profile.ref, entity) not in self._drifted:
                # the model judged it: correct, but the plan drifted from the models (slower)
                self._drifted.add((profile.ref, entity))
                log.warning(
                    "std record built through the pydantic model: the mapping did not type "
                    "its values as the model keeps them (see record_builder.py); said once "
                    "per profile and entity",
                    extra={"profile": profile.ref, "entity": entity},
                )
        value = self._serde.encode(self._writers[entity], record)
        std = OutMessage(self._std_topics[entity], record["record_id"].encode(), value)
        if not issues:
            return entity, record, False, [std]
        return entity, record, True, [std, *self._quality_messages(entity, record, issues)]

    def _decode(self, message: RawMessage) -> dict[str, Any]:
        if message.value is None:
            raise UnreadableEnvelopeError(f"{_ref(message)}: empty message (tombstone)")
        where = MessageRef(message.topic, message.partition, message.offset)
        try:
            value = self._serde.decode(message.value, where).value
        except (CorruptMessageError, UnsupportedWireFormatError, UnknownSchemaError) as exc:
            raise UnreadableEnvelopeError(str(exc)) from exc
        return check_envelope(value, _ref(message))

    def _profile_for(self, connector_name: str) -> Profile:
        connector = self._connectors.get(connector_name)
        if (
            connector is None
            and self._clock.monotonic() - self._connectors_read_at >= RELOAD_EVERY_S
        ):
            # onboarded since the last look: read the files again, but not once per message
            # of a stream nobody onboarded
            self._reload_connectors()
            connector = self._connectors.get(connector_name)
        if connector is None:
            raise UnknownConnectorError(
                f"connector {connector_name} has no file under {self._connectors_dir}; add it "
                "(its profile names the mapping) and replay dlq.standardize"
            )
        profile = self._profiles.get(connector.profile)
        if profile is None:
            raise UnknownConnectorError(
                f"connector {connector_name} names profile {connector.profile}, which is not "
                f"among the loaded profiles ({', '.join(sorted(self._profiles))})"
            )
        return profile

    # --- outputs ---------------------------------------------------------------------------

    def _count_messages(self) -> list[OutMessage]:
        """The batch's ops.standardized_counts: one per (table, minute, entity), replays
        recognised by the version ids the lander uses too."""
        if self._counts is None or self._counts_topic is None:
            return []
        return [
            OutMessage(self._counts_topic, key, self._serde.encode(self._counts, value))
            for key, value in self._counted.events(self._batch_ms)
        ]

    def _quality_messages(
        self, entity: str, record: dict[str, Any], issues: list[Issue]
    ) -> list[OutMessage]:
        key = f"{record['institution_id']}|{record['source_table']}".encode()
        out = []
        for issue in issues:
            event = {
                "institution_id": record["institution_id"],
                "system": record["source_system"],
                "table": record["source_table"],
                "record_key": record["source_key"],
                "entity": entity,
                "field": issue.field,
                "rule": issue.rule,
                "dimension": issue.dimension,
                "severity": issue.severity,
                "message": issue.message,
                "observed": issue.observed,
                "position": record["source_position"],
                "event_ts_ms": self._batch_ms,
            }
            out.append(OutMessage(QUALITY, key, self._serde.encode(self._quality, event)))
        return out

    def _dead_letter(self, message: RawMessage, exc: StandardizeError) -> OutMessage:
        institution, table = _key_parts(message.key)
        log.warning(
            "record dead-lettered",
            extra={"institution": institution, "table": table, "error": type(exc).__name__},
        )
        self._outcomes[(institution or "unknown", "unknown", "dead_letter")] += 1
        letter = DeadLetterRecord(
            stage="standardize",
            reason=str(exc),
            error_type=type(exc).__name__,
            failed_ts_ms=self._batch_ms,
            institution_id=institution,
            table=table,
            original=Original(
                message.topic, message.partition, message.offset, message.key, message.value
            ),
            placement=self._placement(message),
        )
        return OutMessage(
            DLQ_STANDARDIZE, message.key, self._serde.encode(self._dead, letter.to_avro())
        )

    def _placement(self, message: RawMessage) -> Placement:
        """Where the rejected change sits (system, commit time, version), when it decodes:
        reconciliation counts it as rejected in its own window, not as missing."""
        try:
            source = self._decode(message)["source"]
            table = f"{source['schema']}.{source['table']}" if source["schema"] else source["table"]
            rid = self._pseudonymizer.identity.record_id(
                source["institution_id"], source["database"], table, _source_key(message)
            )
            return Placement(
                system=source["system"],
                database=source["database"],
                commit_ts_ms=source["commit_ts_ms"],
                record_id=rid,
                version=version_id(rid, source["position_seq"]),
            )
        except (StandardizeError, KeyError, TypeError):
            return Placement()


def _skip_connector_file(exc: ConnectorConfigError) -> None:
    log.error("connector file skipped: invalid", extra={"error": str(exc)})


def _unexpected(message: RawMessage, exc: Exception) -> UnexpectedRecordError:
    """The reason for a failure no check foresaw: type and place, not the exception's text
    (which may quote the record's clear values)."""
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = (
        f" in {frame.tb_frame.f_code.co_name} ({Path(frame.tb_frame.f_code.co_filename).name}"
        f":{frame.tb_lineno})"
        if frame is not None
        else ""
    )
    error = UnexpectedRecordError(
        f"{_ref(message)}: standardizing failed with {type(exc).__name__}{where}; "
        "report it with this dead letter, then replay dlq.standardize once fixed"
    )
    error.__cause__ = exc
    return error


def _ref(message: RawMessage) -> str:
    return f"{message.topic}[{message.partition}]@{message.offset}"


def _key_document(key: bytes | None) -> dict[str, Any] | None:
    if key is None:
        return None
    try:
        # decoded first: json.loads would sniff the bytes' encoding on every message
        document = json.loads(key.decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None


def _key_parts(key: bytes | None) -> tuple[str | None, str | None]:
    document = _key_document(key) or {}
    institution, table = document.get("institution_id"), document.get("table")
    return (
        institution if isinstance(institution, str) else None,
        table if isinstance(table, str) else None,
    )


def _source_key(message: RawMessage) -> str:
    """The row's primary key from the capture agent's message key, as canonical JSON."""
    document = _key_document(message.key)
    if document is None or not isinstance(document.get("key"), dict):
        raise UnreadableEnvelopeError(
            f"{_ref(message)}: message key is not the capture agent's "
            "{institution_id, table, key} JSON; cannot identify the row"
        )
    return canonical_key(document["key"])
