"""Typed conversion of one value to its target field, chosen once per field when a plan is
compiled (:mod:`streamhub.standardize.plan`).

:func:`coercer` resolves the field's type (a closed set of codes, a time, a date, a number,
text) and returns the one function that converts a present value to it, so a record pays no
type introspection. Each function raises :class:`FieldValueError` for a value it cannot
convert, with the same rule and text whatever path it took; values that already have the
target type (a datetime from an Avro timestamp, an int) and text times in a fixed-width
``format`` take fast paths that give the same result as the general one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from streamhub.standardize.errors import FieldValueError, ValueRule
from streamhub.standardize.model import ENTITY_MODELS, field_meta
from streamhub.standardize.profile import key_text, literal_values, target_type

OBSERVED_MAX = 200  # an issue quotes the raw value, not a whole report text
QUOTED_MAX = 40  # a message quotes at most this much of a (non-personal) value
_TRUE = frozenset({"true", "t", "1", "y", "yes"})
_FALSE = frozenset({"false", "f", "0", "n", "no"})
_INT_DIGITS = 18  # a digit string this short is an int without going through Decimal

Coerce = Callable[[object], object]
TextTime = Callable[[str], datetime]


def quote(value: object) -> str:
    """A non-personal value as a message may quote it: capped, so a report text stays out."""
    text = key_text(value)
    return repr(text if len(text) <= QUOTED_MAX else text[: QUOTED_MAX - 1] + "…")


def problem(rule: ValueRule, value: object, what: str) -> FieldValueError:
    return FieldValueError(rule, f"{quote(value)} {what}", what)


def text_of(value: object) -> str:
    """:func:`key_text`, with the common cases (a str, an int) inline."""
    if type(value) is str:
        return value.strip()
    if type(value) is int:
        return str(value)
    return key_text(value)


def _text_present(value: object) -> str | None:
    if type(value) is str:
        return value.strip() or None
    if type(value) is int:
        return str(value)
    if isinstance(value, str) and not value.strip():
        return None
    return key_text(value)


def _blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def coercer(entity: str, target: str, fmt: str | None, zone: tzinfo) -> Coerce:
    """The conversion of a value (not None) to the type of ``entity.target``: text as it
    is, blank text too (a derivation's result)."""
    kind = target_type(entity, target)
    allowed = literal_values(entity, target)
    if allowed is not None:
        return _literal(allowed)
    if kind is datetime:
        return utc_time(fmt, zone)
    if kind is date:
        return _date(fmt)
    if kind is bool:
        return _as_bool
    if kind is int:
        return _as_int
    if kind is float:
        return _as_float
    if kind is Decimal:
        return _decimal(_scale(entity, target), blank_is_missing=False)
    return text_of


def present_coercer(entity: str, target: str, fmt: str | None, zone: tzinfo) -> Coerce:
    """As :func:`coercer`, for a value as read from the row: blank text is a missing value
    (None), not a malformed one. Text, times, decimals and whole numbers check that inline."""
    kind = target_type(entity, target)
    if literal_values(entity, target) is None:
        if kind is datetime:
            return utc_time(fmt, zone, blank_is_missing=True)
        if kind is Decimal:
            return _decimal(_scale(entity, target), blank_is_missing=True)
        if kind is int:
            return _int_present
        if kind is str:
            return _text_present
    coerce = coercer(entity, target, fmt, zone)

    def present(value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return coerce(value)

    return present


def _scale(entity: str, target: str) -> int | None:
    scale = field_meta(ENTITY_MODELS[entity], target).get("scale")
    return scale if isinstance(scale, int) else None


def _literal(allowed: tuple[str, ...]) -> Coerce:
    members = frozenset(allowed)
    what = f"is not one of {list(allowed)}"

    def literal(value: object) -> str:
        text = value.strip() if type(value) is str else key_text(value)
        if text in members:
            return text
        raise problem("value_format", text, what)

    return literal


# --- times and dates ------------------------------------------------------------------------

_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)


def utc_time(
    fmt: str | None, zone: tzinfo, *, blank_is_missing: bool = False
) -> Callable[[object], datetime | None]:
    """A time in UTC: naive source times are the institution's wall clock (``zone``).

    For a naive time, ``epoch + (time - epoch - offset)`` is what ``replace(tzinfo=zone)
    .astimezone(UTC)`` computes (the same datetime, UTC attached, fold 0), at a tenth of
    the cost of ``datetime.replace``."""
    parse = _text_time(fmt)
    what = f"is not a time in {fmt or 'ISO 8601'}"
    offset = zone.utcoffset if isinstance(zone, ZoneInfo) else None

    def as_utc(value: object) -> datetime | None:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            if blank_is_missing and isinstance(value, str) and not value.strip():
                return None
            text = key_text(value)  # an integer column holding 20240101083000 reads as text too
            try:
                moment = parse(text)
            except ValueError as exc:
                raise problem("value_format", text, what) from exc
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
        if offset is not None:
            shift = offset(moment)
            if shift is not None:
                return _UTC_EPOCH + (moment - _NAIVE_EPOCH - shift)
        return moment.replace(tzinfo=zone).astimezone(UTC)

    return as_utc


def _date(fmt: str | None) -> Coerce:
    parse = _text_time(fmt) if fmt else None
    what = f"is not a date in {fmt or 'ISO 8601'}"

    def as_date(value: object) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = key_text(value)
        try:
            return parse(text).date() if parse is not None else date.fromisoformat(text)
        except ValueError as exc:
            raise problem("value_format", text, what) from exc

    return as_date


_FIELD_WIDTHS = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}
_DATE_PART = ("Y", "m", "d")
_TIME_PART = ("H", "M", "S")


def _text_time(fmt: str | None) -> TextTime:
    """Text -> naive datetime as ``datetime.strptime(text, fmt)`` (``fromisoformat`` without
    a format) reads it, raising ValueError alike."""
    if fmt is None:
        return datetime.fromisoformat
    fast = _fixed_width(fmt)
    if fast is None:
        return lambda text: datetime.strptime(text, fmt)
    return fast


def _fixed_width(fmt: str) -> TextTime | None:
    """A parser for formats of %Y %m %d (and %H %M %S) with punctuation between them, e.g.
    ``%Y%m%d%H%M%S`` or ``%Y-%m-%d``: text of exactly that shape (ASCII digits, the same
    punctuation) is rewritten as ISO 8601 (basic: ``20260302T083015``) and read by
    ``fromisoformat``, which refuses what ``datetime()`` refuses; anything else (and
    whatever it refuses) goes to strptime. strptime's own pattern tries the two-digit
    reading of each field first, so for such text both give the same datetime."""
    shape = _fixed_shape(fmt)
    if shape is None:
        return None
    pattern, length, spans = shape
    names = [n for n in (*_DATE_PART, *_TIME_PART) if n in spans]
    if names not in (list(_DATE_PART), [*_DATE_PART, *_TIME_PART]) or len(names) != len(spans):
        return None
    digits_only = sum(e - s for s, e in spans.values()) == length
    in_order = digits_only and [spans[n] for n in names] == sorted(spans.values())
    split = spans["d"][1]  # where the time starts when the fields are in ISO order
    with_time = len(names) > len(_DATE_PART)
    (y0, y1), (m0, m1), (d0, d1) = (spans[n] for n in _DATE_PART)
    h0 = h1 = i0 = i1 = s0 = s1 = 0
    if with_time:
        (h0, h1), (i0, i1), (s0, s1) = (spans[n] for n in _TIME_PART)
    fromisoformat = datetime.fromisoformat

    def basic(text: str) -> str:
        if in_order:
            return text[:split] + "T" + text[split:] if with_time else text
        day = text[y0:y1] + text[m0:m1] + text[d0:d1]
        return day + "T" + text[h0:h1] + text[i0:i1] + text[s0:s1] if with_time else day

    def parse(text: str) -> datetime:
        if (
            len(text) == length
            and text.isascii()
            and (text.isdigit() if digits_only else pattern.fullmatch(text) is not None)
        ):
            try:
                return fromisoformat(basic(text))
            except ValueError:
                pass  # e.g. 30 February: strptime refuses it too, in its own words
        return datetime.strptime(text, fmt)

    return parse


def _fixed_shape(fmt: str) -> tuple[re.Pattern[str], int, dict[str, tuple[int, int]]] | None:
    """The format's pattern, length and where each field is; None for any other format."""
    pieces: list[str] = []
    spans: dict[str, tuple[int, int]] = {}
    at = 0
    chars = iter(fmt)
    for char in chars:
        if char == "%":
            name = next(chars, "")
            if name not in _FIELD_WIDTHS or name in spans:
                return None
            width = _FIELD_WIDTHS[name]
            spans[name] = (at, at + width)
            pieces.append(f"[0-9]{{{width}}}")
            at += width
        elif char.isspace() or char.isalnum():
            return None  # strptime reads these loosely (any whitespace, any case)
        else:
            pieces.append(re.escape(char))
            at += 1
    return re.compile("".join(pieces)), at, spans


# --- yes/no and numbers -----------------------------------------------------------------


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = key_text(value).lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise problem("value_format", text, "is not a yes/no value")


def _as_int(value: object) -> int:
    if type(value) is int:
        return value
    if type(value) is str and len(value) <= _INT_DIGITS and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = as_decimal(value)
    if number != number.to_integral_value():
        raise problem("value_format", value, "is not a whole number")
    return int(number)


def _as_float(value: object) -> float:
    if isinstance(value, bool):
        raise problem("value_format", value, "is not a number")
    try:
        number = float(value) if isinstance(value, int | float) else float(key_text(value))
    except ValueError as exc:
        raise problem("value_format", value, "is not a number") from exc
    if not math.isfinite(number):
        raise problem("value_format", value, "is not a finite number")
    return number


def _decimal(scale: int | None, *, blank_is_missing: bool) -> Coerce:
    quantum = None if scale is None else Decimal(1).scaleb(-scale)

    def decimal(value: object) -> Decimal | None:
        if type(value) is str:
            text = value.strip()
            if not text and blank_is_missing:
                return None
            try:
                number = Decimal(text)
            except InvalidOperation as exc:
                raise problem("value_format", value, "is not a decimal number") from exc
            if not number.is_finite():
                raise problem("value_format", value, "is not a finite decimal number")
        else:
            if blank_is_missing and _blank(value):
                return None
            number = as_decimal(value)
        return number if quantum is None else number.quantize(quantum, ROUND_HALF_UP)

    return decimal


def _int_present(value: object) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str:
        if len(value) <= _INT_DIGITS and value.isascii() and value.isdigit():
            return int(value)
        if not value.strip():
            return None
    elif _blank(value):
        return None
    return _as_int(value)


def as_decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise problem("value_format", value, "is not a decimal number")
    try:
        number = Decimal(value.strip() if type(value) is str else key_text(value))
    except InvalidOperation as exc:
        raise problem("value_format", value, "is not a decimal number") from exc
    if not number.is_finite():
        raise problem("value_format", value, "is not a finite decimal number")
    return number
