"""Dead letters and landed counts to Kafka, all acknowledged before offsets are committed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from streamhub.land.errors import KafkaUnavailableError, LandError
from streamhub.serde.avro_serde import AvroSerde, RegisteredWriter


class Outbox:
    """Produce framed Avro messages and wait until every one is acknowledged."""

    def __init__(self, bootstrap: str, serde: AvroSerde) -> None:
        self._serde = serde
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "linger.ms": 5,
            }
        )

    def send_all(
        self,
        writer: RegisteredWriter,
        topic: str,
        messages: list[tuple[bytes | None, dict[str, Any]]],
        timeout_s: float,
    ) -> None:
        """Send and wait; re-send only the ones Kafka refused, until ``timeout_s`` is spent."""
        pending = [(key, self._serde.encode(writer, value)) for key, value in messages]
        deadline = time.monotonic() + timeout_s
        delay = 0.2
        while pending:
            failed: list[tuple[bytes | None, bytes]] = []
            errors: list[str] = []
            for item in pending:
                self._produce(topic, item, _reporter(failed, errors, item))
            left = self._producer.flush(max(0.1, deadline - time.monotonic()))
            if left == 0 and not failed:
                return
            if left or time.monotonic() >= deadline:
                raise KafkaUnavailableError(
                    f"{topic}: {len(failed) or left} message(s) not acknowledged "
                    f"({'; '.join(errors[:3]) or 'timed out'}); the batch's offsets were not "
                    "committed — check `streamhub stack status` and restart the lander"
                )
            pending = failed
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _produce(
        self, topic: str, item: tuple[bytes | None, bytes], report: Callable[..., None]
    ) -> None:
        key, value = item
        try:
            self._producer.produce(topic, value=value, key=key, on_delivery=report)
        except BufferError:  # the local queue is full: let deliveries drain, then once more
            self._producer.poll(0.5)
            self._producer.produce(topic, value=value, key=key, on_delivery=report)
        except Exception as exc:  # KafkaException: unknown topic, message too large...
            raise LandError(f"{topic}: cannot produce ({exc})") from exc

    def close(self) -> None:
        self._producer.flush(10)


def _reporter(
    failed: list[tuple[bytes | None, bytes]], errors: list[str], item: tuple[bytes | None, bytes]
) -> Callable[[KafkaError | None, Message], None]:
    """A delivery callback that records ``item`` as failed when Kafka refuses it."""

    def report(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            failed.append(item)
            errors.append(str(err))

    return report
