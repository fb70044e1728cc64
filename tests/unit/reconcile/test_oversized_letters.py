"""A change too large for Kafka: its dlq.capture letter counts as one rejected change.

The capture agent counts the change at the source but sends a letter to dlq.capture
instead of the envelope; the reconciler folds that letter as rejected in the change's
own commit window (not MISSING), once per version: the letter carries the row key and
``position_seq``, and the reconciler computes the version with the identity key.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fastavro
from prometheus_client import CollectorRegistry

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.emitter import Emitter
from streamhub.capture.model import ColumnInfo, RowEvent, TableInfo
from streamhub.codes import credit_code
from streamhub.core.identity import version_id
from streamhub.core.topic_names import DLQ_CAPTURE as DLQ_TOPIC
from streamhub.reconcile.feed import Feed
from streamhub.reconcile.inputs import SourceWindow, landed_from_avro, source_from_avro
from streamhub.reconcile.metrics import ReconcileMetrics
from streamhub.reconcile.reconciler import Reconciler
from streamhub.reconcile.result import Status
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.pseudonym_keys import IdentityTokens, PseudonymKey
from tests.unit.reconcile.helpers import GRACE, MINUTE, T0, clock_at, reconciler

PAST_GRACE = T0 + MINUTE + GRACE
IDENTITY = IdentityTokens(PseudonymKey("i1", b"identity-key-of-the-test-0123"))
SCHEMA = fastavro.parse_schema(
    json.loads(
        (Path(__file__).parents[3] / "avro_schemas" / "ops" / "dead_letter.avsc").read_text("utf-8")
    )
)
TABLE = TableInfo(
    "hisdb",
    "public",
    "patient",
    (ColumnInfo("id", "int8", "long", key=True), ColumnInfo("body", "text", "string")),
)
SEQ = 4242
INST = credit_code.make("1", "2", "350203", "15498973")  # the connector file checks it


def source_window(*, inserts: int) -> SourceWindow:
    window = source_from_avro(
        {
            "connector": "xm-his",
            "institution_id": INST,
            "system": "his",
            "database": "hisdb",
            "table": "public.patient",
            "window_start_ms": T0,
            "window_ms": MINUTE,
            "inserts": inserts,
            "updates": 0,
            "deletes": 0,
            "snapshot_reads": 0,
            "row_count": None,
            "row_count_position": None,
            "emitted_ts_ms": T0 + MINUTE + 5_000,
        }
    )
    assert isinstance(window, SourceWindow)
    return window


class DeadLetterSerde:
    """The letter written with the catalog's dead_letter.avsc: a field the schema lacks is lost."""

    def encode(self, _writer: object, record: dict[str, Any]) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, SCHEMA, record)
        return out.getvalue()


def decoded(value: bytes) -> dict[str, Any]:
    record = fastavro.schemaless_reader(io.BytesIO(value), SCHEMA, None)
    assert isinstance(record, dict)
    return record


def oversized_letter(row_id: int = 1) -> dict[str, Any]:
    """The capture agent's letter for a change too large for Kafka, as the reconciler reads it."""
    config = ConnectorConfig.model_validate(
        {
            "name": "xm-his",
            "institution_id": INST,
            "system": "his",
            "engine": "postgresql",
            "connection": {"port": 5432, "database": "hisdb", "user": "u", "password_env": "P"},
            "tables": ["public.patient"],
            "profile": "p",
        }
    )
    emitter = Emitter.__new__(Emitter)  # no Kafka, no registry: only the letter
    emitter.config = config
    emitter.serde = DeadLetterSerde()  # type: ignore[assignment]
    emitter._ops = {DLQ_TOPIC: object()}  # type: ignore[dict-item]
    emitter.max_message_bytes = 10_000
    emitter.oversized_total = 0
    event = RowEvent(
        TABLE, "c", None, {"id": row_id, "body": "x" * 20_000}, "0/1A2B", SEQ, None, T0 + 1_000
    )
    from streamhub.capture import envelope

    _key, value = emitter._oversized_letter(
        event, envelope.message_key(config, event), 20_512, "over the limit"
    )
    return decoded(value)


def feed(rec: Reconciler) -> Feed:
    serde = AvroSerde.__new__(AvroSerde)  # apply() never decodes
    return Feed(rec, serde, ReconcileMetrics.create(CollectorRegistry()), IDENTITY)


def test_the_letter_carries_the_row_key_and_position_not_a_version() -> None:
    letter = oversized_letter()
    assert letter["position_seq"] == SEQ and letter["version"] is None
    assert letter["record_id"] is None  # the capture agent holds no identity key
    assert json.loads(letter["original_key"])["key"] == {"id": 1}


def test_an_oversized_change_is_rejected_in_its_window_not_missing() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source_window(inserts=2))
    rec.apply_landed(
        landed_from_avro(
            {
                "institution_id": INST,
                "system": "his",
                "table": "public.patient",
                "entity": "patient",
                "window_start_ms": T0,
                "window_ms": MINUTE,
                "upserts": 1,
                "deletes": 0,
                "landed_ts_ms": T0 + 2_000,
                "versions": [version_id("b" * 32, 7)],
            }
        )
    )
    assert feed(rec).apply(DLQ_TOPIC, oversized_letter()) == "applied"
    [result] = rec.due(PAST_GRACE)
    assert (result.status, result.landed, result.dead_lettered) == (Status.MATCH, 1, 1)


def test_a_replayed_letter_counts_once() -> None:
    """After a restart the capture agent sends the change, hence its letter, again."""
    rec = reconciler(clock_at(T0))
    rec.apply_source(source_window(inserts=1))
    fed = feed(rec)
    first, again = oversized_letter(), oversized_letter()
    again["failed_ts_ms"] += 60_000
    fed.apply(DLQ_TOPIC, first)
    fed.apply(DLQ_TOPIC, again)
    [result] = rec.due(PAST_GRACE)
    assert (result.status, result.dead_lettered) == (Status.MATCH, 1)


def test_two_oversized_rows_are_two_rejections() -> None:
    rec = reconciler(clock_at(T0))
    rec.apply_source(source_window(inserts=2))
    fed = feed(rec)
    fed.apply(DLQ_TOPIC, oversized_letter(1))
    fed.apply(DLQ_TOPIC, oversized_letter(2))
    [result] = rec.due(PAST_GRACE)
    assert (result.status, result.dead_lettered) == (Status.MATCH, 2)


def test_the_version_is_the_one_the_standardizer_would_have_given() -> None:
    """The standardizer's record id of the row (identity key, database, qualified table,
    canonical key JSON) with the change's position: a version later landed (the row
    re-snapshotted at the same position) would count once, as landed."""
    from streamhub.reconcile.inputs import oversized_change_version

    expected = version_id(IDENTITY.record_id(INST, "hisdb", "public.patient", '{"id":1}'), SEQ)
    assert oversized_change_version(oversized_letter(), IDENTITY) == expected


def test_other_capture_letters_are_still_not_rejections() -> None:
    rec = reconciler(clock_at(T0))
    letter = oversized_letter() | {"error_type": "UndecodableValue", "position_seq": None}
    assert feed(rec).apply(DLQ_TOPIC, letter) == "ignored"
