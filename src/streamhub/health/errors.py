"""Errors of the link-health command."""

from __future__ import annotations

from streamhub.errors import StreamhubError


class HealthError(StreamhubError):
    """Link health could not be assessed."""


class ThresholdError(HealthError):
    """A ``--threshold name=value`` override names no threshold or has a bad value."""

    exit_code = 2


class FilterError(HealthError):
    """A ``--district`` or ``--state`` names nothing there is."""

    exit_code = 2
