"""Errors of the fleet source (many simulated capture agents in one process)."""

from __future__ import annotations

from streamhub.errors import StreamhubError


class FleetError(StreamhubError):
    """Root of the fleet source's errors."""


class FleetOptionsError(FleetError):
    """The fleet's options cannot make a run (no institutions, rates out of range)."""


class FleetFaultError(FleetError):
    """A fault spec or command the fleet cannot apply (unknown institution, kind or option)."""


class FleetDeliveryError(FleetError):
    """Kafka refused or lost what the fleet produced: the ledger no longer matches the topics."""
