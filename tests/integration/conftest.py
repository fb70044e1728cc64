from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.config import Settings
from streamhub.stack.services import services


@pytest.fixture(scope="session", autouse=True)
def stack_is_up(settings: Settings) -> None:
    down = [s.name for s in (svc.status() for svc in services(settings)) if not s.running]
    if down:
        pytest.fail(
            f"local stack services down: {', '.join(down)}. Start them with "
            "`.venv/bin/streamhub stack up` (or run the whole suite with `scripts/test`).",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def admin(settings: Settings) -> AdminClient:
    return AdminClient({"bootstrap.servers": settings.kafka_bootstrap})


@pytest.fixture
def registry(settings: Settings) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": settings.registry_url})


@pytest.fixture
def new_topic(admin: AdminClient, unique: Callable[[str], str]) -> Iterator[Callable[..., str]]:
    """Create uniquely named topics for one test; deleted afterwards."""
    created: list[str] = []

    def make(prefix: str = "test", partitions: int = 1, **config: str) -> str:
        name = unique(prefix)
        topic = NewTopic(name, num_partitions=partitions, replication_factor=1, config=config)
        admin.create_topics([topic])[name].result(30)
        created.append(name)
        return name

    yield make
    if created:
        for future in admin.delete_topics(created).values():
            future.result(30)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chDB directory of this test process (chDB runs one engine per process, so
    every test that opens it uses this path and isolates itself by database name)."""
    return tmp_path_factory.mktemp("chdb")
