"""Dead letters and landed counts to Kafka, all acknowledged before offsets are committed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.errors import RetriesExhaustedError
from streamhub.core.retry import RetryPolicy, retry_call
from streamhub.land.errors import KafkaUnavailableError, LandError, LandingFailedError
from streamhub.serde.avro_serde import AvroSerde, RegisteredWriter


class _Refused(LandError):
    """Kafka refused some messages of one send (re-sent after a backoff); stays in this module."""

    def __init__(self, topic: str, count: int, errors: list[str]) -> None:
        super().__init__(f"{topic}: {count} message(s) refused")
        self.count = count
        self.errors = errors


def _unacknowledged(topic: str, count: int, errors: list[str]) -> KafkaUnavailableError:
    return KafkaUnavailableError(
        f"{topic}: {count} message(s) not acknowledged "
        f"({'; '.join(errors[:3]) or 'timed out'}); the batch's offsets were not "
        "committed — check `streamhub stack status` and restart the lander"
    )


class Outbox:
    """Produce framed Avro messages and wait until every one is acknowledged."""

    def __init__(self, bootstrap: str, serde: AvroSerde, clock: Clock = SYSTEM_CLOCK) -> None:
        self._serde = serde
        self._clock = clock
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
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
        deadline = self._clock.monotonic() + timeout_s

        def send() -> None:
            nonlocal pending
            failed: list[tuple[bytes | None, bytes]] = []
            errors: list[str] = []
            for item in pending:
                self._produce(topic, item, _reporter(failed, errors, item))
            left = self._producer.flush(max(0.1, deadline - self._clock.monotonic()))
            if left:  # not even answered in time: waiting longer will not help
                raise _unacknowledged(topic, left, errors)
            if failed:
                pending = failed
                raise _Refused(topic, len(failed), errors)

        try:
            retry_call(
                send,
                RetryPolicy(attempts=None, first_s=0.2, max_s=5.0, within_s=timeout_s),
                what=f"producing to {topic}",
                transient=lambda exc: isinstance(exc, _Refused),
                clock=self._clock,
            )
        except RetriesExhaustedError as exc:
            last = exc.last  # only a refusal is retried
            count, errors = (last.count, last.errors) if isinstance(last, _Refused) else (0, [])
            raise _unacknowledged(topic, count, errors) from last

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
            raise LandingFailedError(f"{topic}: cannot produce ({exc})") from exc

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
