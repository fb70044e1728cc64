"""The registry, proven with confluent-kafka's own SchemaRegistryClient."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from aiohttp import web
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from streamhub.config import Settings
from streamhub.registry.server import build_app
from streamhub.registry.store import KafkaLog, RegistryStore


def record(*fields: dict[str, object]) -> Schema:
    doc = {
        "type": "record",
        "name": "Visit",
        "namespace": "streamhub.test",
        "fields": [{"name": "id", "type": "string"}, *fields],
    }
    return Schema(json.dumps(doc), "AVRO")


V1 = record()
V2 = record({"name": "dept", "type": ["null", "string"], "default": None})
BREAKING = record({"name": "fee", "type": "double"})


def test_register_get_list_and_versions(
    registry: SchemaRegistryClient, unique: Callable[[str], str]
) -> None:
    subject = unique("reg") + "-value"
    id1 = registry.register_schema(subject, V1)
    id2 = registry.register_schema(subject, V2)
    assert id1 != id2
    assert registry.register_schema(subject, V1) == id1  # already there: same id
    assert json.loads(registry.get_schema(id2).schema_str) == json.loads(V2.schema_str)
    assert subject in registry.get_subjects()
    assert registry.get_versions(subject) == [1, 2]
    latest = registry.get_latest_version(subject)
    assert (latest.version, latest.schema_id) == (2, id2)
    assert registry.lookup_schema(subject, V1).version == 1


def test_backward_is_the_default_and_incompatible_schemas_are_refused(
    registry: SchemaRegistryClient, unique: Callable[[str], str]
) -> None:
    subject = unique("compat") + "-value"
    registry.register_schema(subject, V1)
    assert registry.get_compatibility() == "BACKWARD"
    assert registry.test_compatibility(subject, V2) is True
    assert registry.test_compatibility(subject, BREAKING) is False
    with pytest.raises(SchemaRegistryError) as refused:
        registry.register_schema(subject, BREAKING)
    assert refused.value.http_status_code == 409
    assert "fee" in refused.value.error_message

    registry.set_compatibility(subject, "NONE")
    assert registry.get_compatibility(subject) == "NONE"
    assert registry.register_schema(subject, BREAKING) > 0


def test_unknown_things_answer_404_with_confluent_codes(
    registry: SchemaRegistryClient, unique: Callable[[str], str]
) -> None:
    with pytest.raises(SchemaRegistryError) as no_schema:
        registry.get_schema(1_999_999_999)
    assert (no_schema.value.http_status_code, no_schema.value.error_code) == (404, 40403)
    with pytest.raises(SchemaRegistryError) as no_subject:
        registry.get_versions(unique("absent"))
    assert no_subject.value.error_code == 40401


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def registry_process(settings: Settings, topic: str) -> Iterator[str]:
    """A registry over ``topic`` on a free port, in a thread: a stand-in for a restart."""
    store = RegistryStore(KafkaLog(settings.kafka_bootstrap, topic))
    store.load()
    port = _free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(build_app(store))
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_schemas_survive_a_restart_because_they_live_in_kafka(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    topic = unique("_schemas-test")
    with registry_process(settings, topic) as url:
        client = SchemaRegistryClient({"url": url})
        first = client.register_schema("visit-value", V1)
        second = client.register_schema("visit-value", V2)
        client.set_compatibility("visit-value", "FULL")
    with registry_process(settings, topic) as url:
        client = SchemaRegistryClient({"url": url})
        assert client.get_versions("visit-value") == [1, 2]
        assert json.loads(client.get_schema(first).schema_str) == json.loads(V1.schema_str)
        assert client.get_latest_version("visit-value").schema_id == second
        assert client.get_compatibility("visit-value") == "FULL"
        # new ids continue after the replayed ones
        assert client.register_schema("other-value", BREAKING) == second + 1


def test_metrics_are_exposed_for_prometheus(settings: Settings) -> None:
    with registry_process(settings, "_schemas-metrics-test") as url:
        SchemaRegistryClient({"url": url}).get_subjects()
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:  # noqa: S310
            text = response.read().decode()
    assert 'streamhub_registry_requests_total{method="GET",route="/subjects",status="200"}' in text
    assert "streamhub_registry_schemas " in text
