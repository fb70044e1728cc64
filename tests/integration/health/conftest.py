"""Health tests run a capture agent like the capture tests: same isolated settings."""

from ..capture.conftest import capture_settings, catalog_topics, connectors_dir

__all__ = ["capture_settings", "catalog_topics", "connectors_dir"]
