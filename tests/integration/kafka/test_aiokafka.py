"""Faust's default transport (aiokafka) speaks to the pinned broker (Kafka 4 dropped old APIs)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streamhub.config import Settings


def test_aiokafka_produce_consume_commit(
    settings: Settings, new_topic: Callable[..., str], unique: Callable[[str], str]
) -> None:
    topic = new_topic("aio")

    async def scenario() -> list[bytes]:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True
        )
        await producer.start()
        try:
            for i in range(3):
                await producer.send_and_wait(topic, f"v{i}".encode(), key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=unique("g"),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        values: list[bytes] = []
        try:
            deadline = asyncio.get_running_loop().time() + 30
            while len(values) < 3 and asyncio.get_running_loop().time() < deadline:
                batch = await consumer.getmany(timeout_ms=1000)
                values += [r.value for records in batch.values() for r in records]
            await consumer.commit()
        finally:
            await consumer.stop()
        return values

    assert asyncio.run(scenario()) == [b"v0", b"v1", b"v2"]
