"""A change too large for Kafka: dead-lettered under its own ack number, never a crash loop."""

from __future__ import annotations

import json
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.delivery import AckTracker
from streamhub.capture.emitter import Emitter
from streamhub.capture.errors import DeliveryFailedError
from streamhub.capture.model import ColumnInfo, RowEvent, TableInfo
from streamhub.codes import credit_code
from streamhub.core.topic_names import DLQ_CAPTURE
from streamhub.serde.avro_serde import RegisteredWriter

LIMIT = 10_000
TABLE = TableInfo(
    "his",
    "public",
    "note",
    (ColumnInfo("id", "int8", "long", key=True), ColumnInfo("body", "text", "string")),
)


class FakeProducer:
    """Records what is produced; the test decides when and how deliveries are reported."""

    def __init__(self, refuse_sync: bool = False) -> None:
        self.sent: list[tuple[str, bytes, bytes, Any]] = []
        self.refuse_sync = refuse_sync

    def produce(self, topic: str, *, value: bytes, key: bytes, on_delivery: Any) -> None:
        if self.refuse_sync and topic != DLQ_CAPTURE:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self.sent.append((topic, key, value, on_delivery))

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self, _timeout: float) -> int:
        return 0


class FakeSerde:
    def encode(self, _writer: object, record: dict[str, Any]) -> bytes:
        return json.dumps(record, default=lambda b: b.decode(errors="replace")).encode()


def emitter(producer: FakeProducer) -> Emitter:
    config = ConnectorConfig.model_validate(
        {
            "name": "xm-his",
            "institution_id": credit_code.make("1", "2", "350203", "15498973"),
            "system": "his",
            "engine": "postgresql",
            "connection": {"port": 5432, "database": "his", "user": "u", "password_env": "P"},
            "tables": ["public.note"],
            "profile": "p",
            "max_message_bytes": LIMIT,
        }
    )
    made = Emitter.__new__(Emitter)  # no Kafka, no registry: only the sending logic
    made.config = config
    made.tracker = AckTracker()
    made.producer = producer  # type: ignore[assignment]
    made.serde = FakeSerde()  # type: ignore[assignment]
    made._ops = {DLQ_CAPTURE: object()}  # type: ignore[dict-item]
    made.bytes_out = 0
    made.max_message_bytes = LIMIT
    made.oversized_total = 0
    made._refused = []
    made._encoders = {}
    made._layouts = {}
    # envelopes are real Avro (the encoder writes them itself); dead letters stay JSON
    made.writer_for = lambda _table: RegisteredWriter("note", 1, None)  # type: ignore[method-assign]
    return made


def event(row_id: int, body: str) -> RowEvent:
    return RowEvent(TABLE, "c", None, {"id": row_id, "body": body}, "0/1", 1, None, 1_000)


def letter(value: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(value)
    return document


def test_an_envelope_over_the_limit_goes_to_the_dlq_and_the_next_change_is_sent() -> None:
    producer = FakeProducer()
    sender = emitter(producer)
    secret = "病历正文" + "x" * LIMIT
    sender.change(event(1, secret))
    sender.change(event(2, "small"))
    assert [topic for topic, *_ in producer.sent] == [DLQ_CAPTURE, "cdc.raw.his"]
    dead = letter(producer.sent[0][2])
    assert dead["error_type"] == "MessageTooLarge" and dead["original_value"] is None
    assert "his.public.note" in dead["reason"] and '"key":{"id":1}' in dead["reason"]
    assert f"max_message_bytes {LIMIT}" in dead["reason"] and "病历正文" not in dead["reason"]
    # the checkpoint after both passes only when both are acknowledged (at-least-once)
    sender.tracker.checkpoint({"resume": "after-2"})
    producer.sent[1][3](None, None)
    assert sender.tracker.safe() is None
    producer.sent[0][3](None, None)
    assert sender.tracker.safe() == {"resume": "after-2"}


def test_a_size_refusal_by_the_producer_is_dead_lettered() -> None:
    producer = FakeProducer(refuse_sync=True)
    sender = emitter(producer)
    sender.change(event(1, "small enough for our check"))
    assert [topic for topic, *_ in producer.sent] == [DLQ_CAPTURE]
    assert "refused by the producer" in letter(producer.sent[0][2])["reason"]


def test_a_size_refusal_by_the_broker_is_dead_lettered_under_the_same_number() -> None:
    producer = FakeProducer()
    sender = emitter(producer)
    sender.change(event(1, "small enough for our check"))
    sender.tracker.checkpoint({"resume": "after-1"})
    producer.sent[0][3](KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), None)
    assert sender.tracker.safe() is None  # no failure, not yet safe: the letter is not out
    sender.poll()  # the letter leaves from the next poll, not from librdkafka's callback
    topic, _key, value, delivered = producer.sent[-1]
    assert topic == DLQ_CAPTURE and "refused by the broker" in letter(value)["reason"]
    delivered(None, None)
    assert sender.tracker.safe() == {"resume": "after-1"}


def test_other_delivery_errors_still_stop_the_connector() -> None:
    producer = FakeProducer()
    sender = emitter(producer)
    sender.change(event(1, "small"))
    producer.sent[0][3](KafkaError(KafkaError._MSG_TIMED_OUT), None)
    with pytest.raises(DeliveryFailedError):
        sender.tracker.safe()


def test_every_capture_letter_has_the_dead_letter_schemas_shape() -> None:
    import fastavro

    from streamhub.catalog.load import load_schema
    from streamhub.config import Settings

    schema = fastavro.parse_schema(
        load_schema(Settings().project_dir / "avro_schemas", "ops/dead_letter.avsc")
    )
    producer = FakeProducer()
    sender = emitter(producer)
    sender.change(event(1, "x" * LIMIT))
    sender.dead_letter(
        reason="table stopped",
        error_type="UnrepresentableChange",
        table="his.public.note",
        key=None,
        raw=b"{}",
    )
    oversized, stopped = (letter(value) for _topic, _key, value, _ack in producer.sent)
    for record in (oversized, stopped):
        assert set(record) == {f["name"] for f in schema["fields"]}
        assert record["stage"] == "capture" and record["record_id"] is None
    assert oversized["position_seq"] == 1 and oversized["original_topic"] == "cdc.raw.his"
    assert (stopped["original_value"], stopped["original_topic"]) == ("{}", None)


def test_a_change_in_flight_keeps_its_dead_letters_facts_not_its_row_images() -> None:
    import gc
    import weakref

    producer = FakeProducer()
    sender = emitter(producer)
    change = event(1, "a long visit note " * 50)
    gone = weakref.ref(change)
    sender.change(change)
    del change
    gc.collect()
    assert gone() is None  # a large transaction in flight does not stay in memory whole
    producer.sent[0][3](KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), None)
    sender.poll()  # the letter is still complete
    dead = letter(producer.sent[-1][2])
    assert "c of his.public.note at 0/1" in dead["reason"] and dead["position_seq"] == 1
