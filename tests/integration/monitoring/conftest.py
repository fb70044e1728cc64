"""The monitoring tests: Prometheus from the Debian package (installed when missing, as
`streamhub stack up` does), and the capture tests' isolated settings for the pipeline."""

from __future__ import annotations

import pytest

from streamhub.stack.prometheus import PrometheusTools, ensure_installed

from ..capture.conftest import capture_settings, catalog_topics

__all__ = ["capture_settings", "catalog_topics", "prometheus_tools"]


@pytest.fixture(scope="session")
def prometheus_tools() -> PrometheusTools:
    return ensure_installed()[0]
