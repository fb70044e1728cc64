"""Bring a Kafka cluster to the catalog: create topics, add partitions, set configs.

Idempotent: a second run against an unchanged catalog reports no change. What
Kafka cannot do (fewer partitions) is reported as drift and fails the run, so
an operator decides instead of the tool pretending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from streamhub.catalog.errors import ApplyError
from streamhub.catalog.load import load_schema
from streamhub.catalog.model import TopicSpec
from streamhub.kafka.topics import wait_for_leaders
from streamhub.serde.avro_serde import AvroSerde, schema_text
from streamhub.serde.errors import SerdeError

TIMEOUT_S = 30.0


@dataclass
class ApplyReport:
    changes: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def apply_topics(
    admin: AdminClient, specs: Sequence[TopicSpec], dry_run: bool = False
) -> ApplyReport:
    report = ApplyReport()
    metadata = admin.list_topics(timeout=TIMEOUT_S)
    brokers = len(metadata.brokers)
    if brokers == 0:
        raise ApplyError(
            "the Kafka cluster reports no brokers; is it up? (`streamhub stack status`)"
        )
    capped = [s.name for s in specs if s.replication > brokers]
    if capped:
        report.notes.append(
            f"replication capped to {brokers} (cluster has {brokers} broker(s)) "
            f"for {len(capped)} topic(s)"
        )
    existing = {s.name: metadata.topics[s.name] for s in specs if s.name in metadata.topics}
    current = _current_configs(admin, list(existing))
    for spec in specs:
        replication = min(spec.replication, brokers)
        desired = spec.desired_configs(replication)
        if spec.name not in existing:
            report.changes.append(
                f"create {spec.name}: {spec.partitions} partitions, "
                f"replication {replication}, {spec.cleanup_policy}"
            )
            if not dry_run:
                _create(admin, NewTopic(spec.name, spec.partitions, replication, config=desired))
            continue
        topic_changed = False
        have = len(existing[spec.name].partitions)
        if have < spec.partitions:
            report.changes.append(f"partitions {spec.name}: {have} -> {spec.partitions}")
            topic_changed = True
            if not dry_run:
                _wait(
                    admin.create_partitions([NewPartitions(spec.name, spec.partitions)]),
                    f"adding partitions to {spec.name}",
                )
        elif have > spec.partitions:
            report.drift.append(
                f"{spec.name} has {have} partitions, the catalog says "
                f"{spec.partitions}; Kafka cannot remove partitions: "
                "raise the catalog's count or recreate the topic"
            )
        diffs = {k: v for k, v in desired.items() if current[spec.name].get(k) != v}
        if diffs:
            for key, value in sorted(diffs.items()):
                report.changes.append(
                    f"config {spec.name}: {key} {current[spec.name].get(key)} -> {value}"
                )
            topic_changed = True
            if not dry_run:
                _alter(admin, spec.name, diffs)
        report.unchanged += not topic_changed
    return report


def register_schemas(
    registry: SchemaRegistryClient,
    specs: Sequence[TopicSpec],
    schemas_dir: Path,
    dry_run: bool = False,
) -> ApplyReport:
    """Register each topic-keyed value schema as ``<topic>-value`` unless already there."""
    report = ApplyReport()
    serde = AvroSerde(registry)
    for spec in specs:
        if spec.value_subject != "topic" or spec.value_schema is None:
            continue  # registered per record by its producer; or JSON, no schema
        subject = f"{spec.name}-value"
        document = load_schema(schemas_dir, spec.value_schema)
        try:
            registry.lookup_schema(subject, Schema(schema_text(document), "AVRO"))
            report.unchanged += 1
            continue
        except SchemaRegistryError as exc:
            if exc.http_status_code != 404:
                raise ApplyError(f"schema registry lookup of {subject} failed: {exc}") from exc
        report.changes.append(f"register schema {subject} ({spec.value_schema})")
        if not dry_run:
            try:
                serde.register(subject, document)
            except SerdeError as exc:
                raise ApplyError(str(exc)) from exc
    return report


def _current_configs(admin: AdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    if not names:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
    futures = admin.describe_configs(resources)
    result: dict[str, dict[str, str]] = {}
    for resource, future in futures.items():
        entries = _wait({resource: future}, f"reading configs of {resource.name}")[resource]
        result[resource.name] = {k: str(e.value) for k, e in entries.items()}
    return result


def _create(admin: AdminClient, topic: NewTopic) -> None:
    try:
        admin.create_topics([topic])[topic.topic].result(TIMEOUT_S)
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise ApplyError(f"creating topic {topic.topic} failed: {exc}") from exc
    # apply is idempotent only if the next run sees what this one created
    if not wait_for_leaders(admin, topic.topic, TIMEOUT_S):
        raise ApplyError(f"topic {topic.topic} was created but has no leader after {TIMEOUT_S}s")


def _alter(admin: AdminClient, name: str, diffs: dict[str, str]) -> None:
    entries = [
        ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in diffs.items()
    ]
    resource = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
    _wait(admin.incremental_alter_configs([resource]), f"altering configs of {name}")


def _wait(futures: dict, what: str) -> dict:  # type: ignore[type-arg]
    try:
        return {key: future.result(TIMEOUT_S) for key, future in futures.items()}
    except KafkaException as exc:
        raise ApplyError(f"{what} failed: {exc}") from exc
