"""The anomaly tests run capture agents like the capture tests: same isolated settings."""

from ..capture.conftest import capture_settings, catalog_topics

__all__ = ["capture_settings", "catalog_topics"]
