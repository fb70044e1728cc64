"""Errors of the quality reports."""

from __future__ import annotations

from streamhub.errors import StreamhubError


class QualityError(StreamhubError):
    """A quality report could not be produced."""


class PeriodError(QualityError):
    """``--period`` is not a day (2026-11-05), an ISO week (2026-W45) or a month (2026-11)."""

    exit_code = 2


class WorkOrderError(QualityError):
    """A work order (运维工单) could not be read, changed or evaluated."""


class WorkOrderNotFoundError(WorkOrderError):
    """No work order has this id."""

    exit_code = 2


class WorkOrderAccessError(WorkOrderError):
    """The user may not see or change this work order (another institution's)."""

    exit_code = 2


class WorkOrderStateError(WorkOrderError):
    """Not allowed from the order's current state (e.g. acknowledging a closed order)."""

    exit_code = 2


class NotifyError(QualityError):
    """A notification could not be delivered (SMTP or webhook); the order is kept and the
    notification retried on the next evaluation."""
