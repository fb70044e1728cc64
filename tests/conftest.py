"""Shared fixtures. Integration tests use the real local stack and fail (never skip)
with the command that starts it when a service is down."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streamhub.config import Settings, load_settings

PROJECT_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def settings() -> Settings:
    os.environ.pop("STREAMHUB_CONFIG", None)
    return load_settings(project_dir=PROJECT_DIR)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names that no other test (or earlier run) uses: topics, subjects, groups, databases."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture(scope="session")
def project_dir() -> Iterator[Path]:
    yield PROJECT_DIR
