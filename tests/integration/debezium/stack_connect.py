"""The stack's Kafka Connect worker for the Debezium tests, started through streamhub's own
code (``KafkaConnect.up``, as ``stack up connect`` does) once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streamhub.config import Settings
from streamhub.debezium.connect_api import ConnectClient
from streamhub.stack.connect import PLUGINS, KafkaConnect


@pytest.fixture(scope="session")
def stack_connect(settings: Settings) -> Iterator[ConnectClient]:
    """The stack's worker, up with every Debezium plugin; stopped again if started here."""
    service = KafkaConnect(settings)
    started = service.up() == "started"  # resolves its jars from Maven on first use
    try:
        client = ConnectClient(settings.connect_url)
        assert set(PLUGINS.values()) <= client.plugins()
        yield client
    finally:
        if started:
            service.down()
