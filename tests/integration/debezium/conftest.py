"""The Debezium pipeline test runs its workers like the pipeline tests: same isolated settings."""

from ..capture.conftest import capture_settings, catalog_topics
from .stack_connect import stack_connect

__all__ = ["capture_settings", "catalog_topics", "stack_connect"]
