"""Errors of the quality reports."""

from __future__ import annotations

from streamhub.errors import StreamhubError


class QualityError(StreamhubError):
    """A quality report could not be produced."""


class PeriodError(QualityError):
    """``--period`` is not a day (2026-11-05), an ISO week (2026-W45) or a month (2026-11)."""

    exit_code = 2
