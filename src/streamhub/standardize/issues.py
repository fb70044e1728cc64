"""A data-quality finding on one record: what the mapper and the checks report.

Each becomes an ``ops.quality`` event and its rule id lands in the record's
``quality_issues``; the record itself still flows (flagged), unless it cannot be
standardized at all, which is a :class:`~streamhub.standardize.errors.StandardizeError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Dimension = Literal[
    "completeness",
    "conformance",
    "accuracy",
    "consistency",
    "uniqueness",
    "timeliness",
    "integration",
]
Severity = Literal["info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Issue:
    """``observed`` must already be masked when the field is a personal identifier."""

    rule: str
    dimension: Dimension
    severity: Severity
    message: str
    field: str | None = None
    observed: str | None = None
