"""The standardizer's errors derive from its root, never from ValueError: a ``except
ValueError`` around parsing code must not swallow them."""

from __future__ import annotations

import pytest

from streamhub.errors import StreamhubError
from streamhub.standardize import derive
from streamhub.standardize.errors import (
    BadValueError,
    BatchFailedError,
    DerivationError,
    FieldValueError,
    StandardizeError,
    UnknownCodeError,
)


@pytest.mark.parametrize(
    "error",
    [
        FieldValueError("value_format", "'x' is not a number", "is not a number"),
        DerivationError("no value"),
        UnknownCodeError("department '99.99' is not in the catalogue"),
        BadValueError("department code '3-1' is not like 03 or 03.01"),
        BatchFailedError("batch of 3 from cdc.raw.his[0]@1 failed 8 times"),
    ],
)
def test_errors_derive_from_the_stage_root_not_value_error(error: Exception) -> None:
    assert isinstance(error, StandardizeError) and isinstance(error, StreamhubError)
    assert not isinstance(error, ValueError)


def test_a_derivations_error_names_the_rule_it_breaks() -> None:
    with pytest.raises(UnknownCodeError) as unknown:
        derive.department_name("99.99")
    assert unknown.value.rule == "code_mapped"
    with pytest.raises(BadValueError) as bad:
        derive.department_code("3-1")
    assert bad.value.rule == "value_format"


def test_a_field_value_error_keeps_what_is_wrong_apart_from_the_value() -> None:
    error = FieldValueError(
        "value_format", "'1990-13-01' is not a date in ISO 8601", "is not a date in ISO 8601"
    )
    assert error.rule == "value_format"
    assert "1990" not in error.what
