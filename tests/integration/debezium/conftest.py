"""The Debezium pipeline test runs its workers like the pipeline tests: same isolated settings."""

from ..capture.conftest import capture_settings, catalog_topics

__all__ = ["capture_settings", "catalog_topics"]
