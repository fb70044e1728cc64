"""Requests to running connectors (re-snapshot a table or some rows), through a Kafka topic.

Whichever agent holds a connector reads the signals addressed to it, so an
operator need not know where the connector runs. A task reads from the end of
the topic as it starts: a request is meant for the connector that runs now, and
one sent while its connector restarts is not answered (send it again).

The agent answers every request on the same topic (action ``snapshot_done``):
rows re-read with the position_seq of their envelope, keys the source does not
have, or the reason it refused. A targeted (keyed) request is answered once its
envelopes are acknowledged by Kafka; a whole-table one once the table's snapshot
has finished.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from streamhub.capture.errors import (
    CaptureError,
    SnapshotRejectedError,
    SnapshotRequestError,
    SnapshotTimeoutError,
)
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.kafka.topics import ensure_topic
from streamhub.log import get_logger

log = get_logger(__name__)
TOPIC_SUFFIX = "_signals"
REQUEST = "snapshot"
DONE = "snapshot_done"
MAX_KEYS = 10_000  # keeps a request and its answer well under Kafka's 1 MB message limit

# where this process's requests sit on the topic, so a wait reads from there, not from the start
_sent: dict[str, tuple[str, int]] = {}


def signal_topic(settings: Settings) -> str:
    return f"_{settings.capture_group.replace('-', '_')}{TOPIC_SUFFIX}"


def _ensure(settings: Settings, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    try:
        ensure_topic(admin, topic)
    except KafkaException as exc:
        raise CaptureError(f"cannot create the signal topic {topic}: {exc}") from exc


@dataclass(frozen=True)
class SnapshotRequest:
    connector: str
    table: str
    request_id: str
    keys: list[dict[str, Any]] | None = None  # None: the whole table

    def document(self, clock: Clock = SYSTEM_CLOCK) -> dict[str, Any]:
        document: dict[str, Any] = {
            "connector": self.connector,
            "action": REQUEST,
            "table": self.table,
            "request_id": self.request_id,
            "ts": clock.time(),
        }
        if self.keys is not None:
            document["keys"] = self.keys
        return document

    @classmethod
    def parse(cls, document: dict[str, Any]) -> SnapshotRequest:
        keys = document.get("keys")
        return cls(
            connector=str(document.get("connector")),
            table=str(document.get("table")),
            request_id=str(document.get("request_id") or ""),  # older senders gave none
            keys=list(keys) if isinstance(keys, list) else None,
        )


@dataclass(frozen=True)
class ReRead:
    key: dict[str, Any]  # the capture message key's ``key`` object of the emitted row
    position_seq: int  # of the envelope that carries the row now


@dataclass(frozen=True)
class SnapshotDone:
    request_id: str
    connector: str
    table: str
    read: list[ReRead] = field(default_factory=list)
    not_found: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0  # envelopes emitted as snapshot reads (a whole-table request lists no keys)


def completion_document(
    done: SnapshotDone, error: str | None = None, clock: Clock = SYSTEM_CLOCK
) -> dict[str, Any]:
    return {
        "connector": done.connector,
        "action": DONE,
        "request_id": done.request_id,
        "table": done.table,
        "read": [{"key": r.key, "position_seq": r.position_seq} for r in done.read],
        "not_found": done.not_found,
        "rows": done.rows,
        "error": error,
        "ts": clock.time(),
    }


def parse_completion(document: dict[str, Any]) -> tuple[SnapshotDone, str | None]:
    """The completion and the agent's reason when it refused the request (else None)."""
    done = SnapshotDone(
        request_id=str(document["request_id"]),
        connector=str(document["connector"]),
        table=str(document["table"]),
        read=[ReRead(dict(r["key"]), int(r["position_seq"])) for r in document.get("read", [])],
        not_found=[dict(k) for k in document.get("not_found", [])],
        rows=int(document.get("rows") or 0),
    )
    error = document.get("error")
    return done, None if error is None else str(error)


def check_keys(connector: str, table: str, keys: list[dict[str, Any]] | None) -> None:
    """Refuse what no agent could use, before it is sent (the agent checks column names)."""
    if keys is None:
        return
    where = f"re-snapshot of {table} from {connector}"
    if not isinstance(keys, list) or not keys:
        raise SnapshotRequestError(
            f"{where}: keys must be a non-empty list of primary-key objects "
            "(pass keys=None to re-snapshot the whole table)"
        )
    if len(keys) > MAX_KEYS:
        raise SnapshotRequestError(
            f"{where}: {len(keys)} keys in one request; send at most {MAX_KEYS} per request"
        )
    for key in keys:
        if not isinstance(key, dict) or not key:
            raise SnapshotRequestError(
                f'{where}: {key!r} is not a primary-key object like {{"id": 42}}'
            )
    try:
        json.dumps(keys)
    except (TypeError, ValueError) as exc:
        raise SnapshotRequestError(f"{where}: keys must be JSON values: {exc}") from exc


def send_snapshot_request(
    settings: Settings,
    connector: str,
    table: str,
    keys: list[dict[str, Any]] | None = None,
    request_id: str | None = None,
) -> str:
    """Ask the agent running ``connector`` to re-read ``keys`` of ``table`` (all rows when None).

    Returns the request id to pass to :func:`wait_for_snapshot_done`.
    """
    check_keys(connector, table, keys)
    request = SnapshotRequest(connector, table, request_id or uuid.uuid4().hex, keys)
    topic = signal_topic(settings)
    _ensure(settings, topic)
    producer = Producer(
        {"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "enable.idempotence": True}
    )
    offsets: list[int] = []

    def delivered(err: KafkaError | None, message: Message) -> None:
        if err is None:
            offsets.append(message.offset() or 0)

    producer.produce(
        topic,
        key=connector.encode(),
        value=json.dumps(request.document(), ensure_ascii=False).encode(),
        on_delivery=delivered,
    )
    if producer.flush(15) or not offsets:
        raise CaptureError(
            f"the snapshot request for {connector} was not acknowledged by Kafka at "
            f"{settings.kafka_bootstrap}; check the broker (`streamhub stack status`) and retry"
        )
    _sent[request.request_id] = (connector, offsets[0])
    return request.request_id


def wait_for_snapshot_done(
    settings: Settings, request_id: str, timeout_s: float, clock: Clock = SYSTEM_CLOCK
) -> SnapshotDone:
    """The agent's answer to a request; raises SnapshotRejectedError or SnapshotTimeoutError."""
    topic = signal_topic(settings)
    # another process's request: read the (small) topic from its start
    connector, start = _sent.get(request_id, ("", OFFSET_BEGINNING))
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"streamhub-signals-wait-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, start)])
        deadline = clock.monotonic() + timeout_s
        while clock.monotonic() < deadline:
            message = consumer.poll(min(0.5, max(deadline - clock.monotonic(), 0.01)))
            if message is None or message.error() is not None:
                continue
            document = _document(message)
            if document is None or document.get("request_id") != request_id:
                continue
            if document.get("action") == REQUEST:
                connector = str(document.get("connector"))
            elif document.get("action") == DONE:
                done, error = parse_completion(document)
                if error is not None:
                    raise SnapshotRejectedError(done.connector, request_id, error)
                return done
    finally:
        consumer.close()
    raise SnapshotTimeoutError(connector, request_id, timeout_s, topic)


def _document(message: Message) -> dict[str, Any] | None:
    try:
        document = json.loads(message.value() or b"{}")
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


class SignalListener:
    def __init__(self, settings: Settings, connector: str, clock: Clock = SYSTEM_CLOCK) -> None:
        self.connector = connector
        self.clock = clock  # stamps answers
        self.settings = settings
        self.topic = signal_topic(settings)
        _ensure(settings, self.topic)
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": f"streamhub-signals-{connector}",
                "enable.auto.commit": False,
            }
        )
        partition = TopicPartition(self.topic, 0)
        _, high = self._consumer.get_watermark_offsets(partition, timeout=10)
        self._consumer.assign([TopicPartition(self.topic, 0, high)])
        self._producer: Producer | None = None

    def poll(self) -> list[SnapshotRequest]:
        """Requests for this connector that arrived since the last poll."""
        found: list[SnapshotRequest] = []
        while True:
            message = self._consumer.poll(0)
            if message is None:
                return found
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return found
                raise CaptureError(f"signal topic: {error}")
            document = _document(message)
            if document is None:
                log.warning(
                    "signal is not a JSON object; ignored",
                    extra={"connector": self.connector, "offset": message.offset()},
                )
            elif document.get("connector") == self.connector and document.get("action") in (
                REQUEST,
                None,
            ):
                found.append(SnapshotRequest.parse(document))

    def reply(self, done: SnapshotDone, error: str | None = None) -> None:
        """Publish the answer to a request; a lost answer only makes its waiter time out."""
        if self._producer is None:
            self._producer = Producer(
                {
                    "bootstrap.servers": self.settings.kafka_bootstrap,
                    "acks": "all",
                    "enable.idempotence": True,
                }
            )
        value = json.dumps(
            completion_document(done, error, self.clock), ensure_ascii=False, default=str
        )
        self._producer.produce(self.topic, key=self.connector.encode(), value=value.encode())
        if self._producer.flush(10):
            log.error(
                "re-snapshot answer not acknowledged by Kafka; its waiter will time out",
                extra={"connector": self.connector, "request_id": done.request_id},
            )

    def close(self) -> None:
        self._consumer.close()
        if self._producer is not None:
            self._producer.flush(5)
