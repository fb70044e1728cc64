"""The plan's value conversions: fast paths give what the general path gives."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from streamhub.standardize.errors import FieldValueError
from streamhub.standardize.plan_values import _fixed_width, _text_time, coercer

FORMATS = ["%Y%m%d%H%M%S", "%Y%m%d", "%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%H%M%S%Y%m%d"]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _outcome(parse: Callable[[str], datetime], text: str) -> object:
    try:
        return parse(text)
    except ValueError:
        return ValueError


def _texts(fmt: str, rng: random.Random) -> list[str]:
    """Text close to the format's shape: valid times, each field out of range, digits that
    strptime may read with one-digit fields, wrong lengths and foreign characters."""
    moments = [datetime(2026, 3, 2, 8, 30, 15), datetime(1999, 12, 31, 23, 59, 59)]
    moments += [
        datetime(rng.randrange(1, 9999), 1, 1)
        + (datetime(2000, 1, 1) - datetime(1999, 1, 1)) * rng.random()
        for _ in range(200)
    ]
    texts = [m.strftime(fmt) for m in moments if m.year >= 1000]
    for text in list(texts[:60]):
        for position in range(len(text)):
            for char in "0913 ２x-":
                texts.append(text[:position] + char + text[position + 1 :])
            texts.append(text[:position] + text[position + 1 :])
        texts.append(text + "0")
        texts.append(" " + text)
    digits = "".join(ch for ch in texts[0] if ch.isdigit())
    for _ in range(2000):
        texts.append(
            "".join(rng.choice("0123456789") for _ in range(len(digits) + rng.randrange(-2, 2)))
        )
    texts += [
        "20260230120000",
        "20260229120000",
        "20240229120000",
        "00000101000000",
        "20260302083060",
        "20260302240000",
        "20260302236000",
    ]
    return texts


@pytest.mark.parametrize("fmt", FORMATS)
def test_fixed_width_times_read_as_strptime_reads_them(fmt: str) -> None:
    parse = _text_time(fmt)
    assert _fixed_width(fmt) is not None  # the fast parser is in use for these formats
    for text in _texts(fmt, random.Random(fmt)):
        assert _outcome(parse, text) == _outcome(lambda t: datetime.strptime(t, fmt), text), text


OTHER_FORMATS = ["%y%m%d", "%Y%m%d %H%M", "%Y%m%dT%H%M%S", "%Y%j", "%Y%m%d%H%M%S%f", "%Y%m"]


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_other_formats_are_left_to_strptime(fmt: str) -> None:
    """Whitespace, letters, other directives and missing fields are read as strptime reads
    them (loosely): no fast path for those."""
    assert _fixed_width(fmt) is None
    text = datetime(2026, 3, 2, 8, 30, 15).strftime(fmt)
    assert _text_time(fmt)(text) == datetime.strptime(text, fmt)


def test_times_convert_to_utc_on_every_path() -> None:
    convert = coercer("encounter", "registered_time", "%Y%m%d%H%M%S", SHANGHAI)
    expected = datetime(2026, 3, 2, 0, 30, 15, tzinfo=UTC)
    assert convert("20260302083015") == expected
    assert convert(20260302083015) == expected  # an integer column holding a compact time
    assert convert(datetime(2026, 3, 2, 8, 30, 15)) == expected  # naive: the institution's clock
    assert convert(expected) == expected
    assert convert(date(2026, 3, 2)) == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    with pytest.raises(FieldValueError, match=r"'20260230083015' is not a time in %Y%m%d%H%M%S"):
        convert("20260230083015")


def test_whole_numbers_read_digits_directly_and_everything_else_as_decimals() -> None:
    convert = coercer("encounter", "admission_count", None, SHANGHAI)
    assert convert("0012") == 12
    assert convert(" 7 ") == 7
    assert convert("3.0") == 3
    assert convert("1e2") == 100
    assert convert("9" * 40) == int("9" * 40)
    with pytest.raises(FieldValueError, match="is not a whole number"):
        convert("3.5")
    with pytest.raises(FieldValueError, match="is not a decimal number"):
        convert(True)


def test_decimals_take_the_field_scale() -> None:
    convert = coercer("charge", "amount", None, SHANGHAI)
    assert repr(convert("12.5")) == repr(Decimal("12.50"))
    assert repr(convert(3)) == repr(Decimal("3.00"))
    with pytest.raises(FieldValueError, match="is not a finite decimal number"):
        convert("NaN")
