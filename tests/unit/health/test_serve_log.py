"""The exporter's log at a province's count: changes of a few links line by line, the first
check and a region-wide change as one line."""

from __future__ import annotations

import logging

import pytest

from streamhub.health.model import HOPS, HopHealth, InstitutionHealth, Status
from streamhub.health.serve import MAX_CHANGE_LINES, _log_changes


def health(index: int, status: Status = Status.HEALTHY) -> InstitutionHealth:
    hops = tuple(HopHealth(hop, status if hop == "capture" else Status.HEALTHY) for hop in HOPS)
    return InstitutionHealth(f"I{index:04d}", None, hops)


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = [r.getMessage() for r in caplog.records if r.name == "streamhub.health.serve"]
    caplog.clear()
    return found


def test_first_check_and_many_changes_are_one_line_a_few_are_one_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    last: dict[str, Status] = {}
    everyone = [health(i) for i in range(1751)]
    _log_changes(everyone, last)
    assert messages(caplog) == ["link status"]
    _log_changes(everyone, last)
    assert messages(caplog) == []  # nothing changed
    two_down = [health(i, Status.DOWN) if i in (3, 9) else health(i) for i in range(1751)]
    _log_changes(two_down, last)
    assert messages(caplog) == ["link status changed"] * 2
    all_down = [health(i, Status.DOWN) for i in range(1751)]
    _log_changes(all_down, last)
    assert messages(caplog) == ["link status changed"]
    assert MAX_CHANGE_LINES < 1749
