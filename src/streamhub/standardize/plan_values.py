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
    """:func:`key_text`, with the common case (a str) inline."""
    return value.strip() if type(value) is str else key_text(value)


def coercer(entity: str, target: str, fmt: str | None, zone: tzinfo) -> Coerce:
    """The conversion of a present value (not None; blank text already handled) to the type
    of ``entity.target``."""
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
        return _decimal(_scale(entity, target))
    return text_of


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


def utc_time(fmt: str | None, zone: tzinfo) -> Callable[[object], datetime]:
    """A time in UTC: naive source times are the institution's wall clock (``zone``)."""
    parse = _text_time(fmt)
    what = f"is not a time in {fmt or 'ISO 8601'}"

    def as_utc(value: object) -> datetime:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            text = key_text(value)  # an integer column holding 20240101083000 reads as text too
            try:
                moment = parse(text)
            except ValueError as exc:
                raise problem("value_format", text, what) from exc
        local = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
        return local.astimezone(UTC)

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
    punctuation) that makes a valid datetime is read by position; anything else goes to
    strptime. strptime's own pattern tries the two-digit reading of each field first, so
    for such text both give the same datetime."""
    pattern, names = _fixed_pattern(fmt)
    if pattern is None or set(names) not in (set(_DATE_PART), {*_DATE_PART, *_TIME_PART}):
        return None
    order = tuple(names.index(n) for n in (*_DATE_PART, *_TIME_PART) if n in names)
    with_time = len(order) == len(_FIELD_WIDTHS)

    def parse(text: str) -> datetime:
        found = pattern.fullmatch(text)
        if found is not None:
            groups = found.groups()
            year, month, day = int(groups[order[0]]), int(groups[order[1]]), int(groups[order[2]])
            hour = minute = second = 0
            if with_time:
                hour, minute, second = (
                    int(groups[order[3]]),
                    int(groups[order[4]]),
                    int(groups[order[5]]),
                )
            try:
                return datetime(year, month, day, hour, minute, second)
            except ValueError:
                pass  # e.g. 30 February: strptime refuses it too
        return datetime.strptime(text, fmt)

    return parse


def _fixed_pattern(fmt: str) -> tuple[re.Pattern[str] | None, list[str]]:
    pieces: list[str] = []
    names: list[str] = []
    chars = iter(fmt)
    for char in chars:
        if char == "%":
            name = next(chars, "")
            if name not in _FIELD_WIDTHS or name in names:
                return None, names
            names.append(name)
            pieces.append(rf"([0-9]{{{_FIELD_WIDTHS[name]}}})")
        elif char.isspace() or char.isalnum():
            return None, names  # strptime reads these loosely (any whitespace, any case)
        else:
            pieces.append(re.escape(char))
    return re.compile("".join(pieces)), names


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


def _decimal(scale: int | None) -> Coerce:
    if scale is None:
        return as_decimal
    quantum = Decimal(1).scaleb(-scale)

    def scaled(value: object) -> Decimal:
        return as_decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)

    return scaled


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
