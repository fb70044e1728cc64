from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from streamhub.catalog.apply import apply_topics
from streamhub.catalog.load import load_catalog
from streamhub.config import Settings


@pytest.fixture(scope="session")
def catalog_topics(settings: Settings) -> None:
    """The raw, ops and dead-letter topics exist (the agent refuses to start without them)."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    apply_topics(admin, load_catalog(settings.project_dir / "topics"))


@pytest.fixture
def capture_settings(settings: Settings, catalog_topics: None) -> Settings:
    """Settings of an isolated capture deployment: its own group and positions topic."""
    tag = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={
            "capture_group": f"test-capture-{tag}",
            "capture_positions_topic": f"_test_capture_positions_{tag}",
        }
    )


@pytest.fixture
def connectors_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "connectors"
    path.mkdir()
    yield path
