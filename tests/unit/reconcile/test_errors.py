"""The reconcile stage's errors live in its errors module, under ReconcileError, and carry
what a caller needs to act on them."""

from __future__ import annotations

import pytest

import streamhub.reconcile.errors as errors
from streamhub.errors import StreamhubError
from streamhub.reconcile.times import parse_duration_ms, parse_local_ms


@pytest.mark.parametrize(
    "name",
    ["TimeFormatError", "RepairTimeoutError", "RebuildError", "TableNotFoundError"],
)
def test_each_error_is_a_reconcile_error_from_the_errors_module(name: str) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, errors.ReconcileError) and issubclass(cls, StreamhubError)
    assert not issubclass(cls, ValueError)
    assert cls.__module__ == "streamhub.reconcile.errors"


def test_operator_times_fail_with_the_text_they_typed() -> None:
    with pytest.raises(errors.TimeFormatError, match="'soon' is not a duration"):
        parse_duration_ms("soon")
    with pytest.raises(errors.TimeFormatError, match="'yesterday' is not a time"):
        parse_local_ms("yesterday")


def test_a_missing_table_names_the_institution_table_and_window() -> None:
    error = errors.TableNotFoundError(
        "no change", institution="I1", table="hisdb.public.t", window_start_ms=60_000
    )
    assert (error.institution, error.table, error.window_start_ms) == (
        "I1",
        "hisdb.public.t",
        60_000,
    )
    assert str(error) == "no change"


def test_a_repair_timeout_says_how_many_rows_did_not_land() -> None:
    error = errors.RepairTimeoutError(
        "2 of 3 did not land", institution="I1", table="hisdb.t", window_start_ms=0, not_landed=2
    )
    assert (error.institution, error.table, error.not_landed) == ("I1", "hisdb.t", 2)
