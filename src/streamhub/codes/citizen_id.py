"""GB 11643 citizen identity number: 6 region + 8 birth date + 3 sequence + 1 check char."""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass

from streamhub.codes.errors import InvalidIdentifierError, Reason

LENGTH = 18
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # indexed by the weighted sum mod 11
_ZERO_TOTAL = ord("0") * sum(WEIGHTS)
MALE = 1  # GB/T 2261.1 sex codes
FEMALE = 2


@dataclass(frozen=True)
class CitizenId:
    """What a valid number states about its holder."""

    region: str
    birth_date: dt.date
    sex: int


def _digits(text: str) -> bool:
    # str.isdigit alone accepts full-width and other Unicode digits
    return text.isascii() and text.isdigit()


def check_char(first17: str) -> str:
    """The check character for the first 17 digits."""
    if len(first17) != LENGTH - 1 or not _digits(first17):
        raise ValueError("a citizen ID body is exactly 17 ASCII digits")
    # ASCII digits: the weighted sum of the byte values less 48 (b"0") per weight, all in C
    total = sum(map(operator.mul, first17.encode("ascii"), WEIGHTS)) - _ZERO_TOTAL
    return CHECK_CHARS[total % 11]


def make(region: str, birth: dt.date, sequence: int) -> str:
    """A valid number; ``sequence`` 0..999, odd for men and even for women."""
    if len(region) != 6 or not _digits(region):
        raise ValueError(f"region must be 6 ASCII digits, got {region!r}")
    if not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be in 0..999, got {sequence}")
    body = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    return body + check_char(body)


def parse(number: str) -> CitizenId:
    """The region, birth date and sex of a valid number; raise with the first reason it fails.

    Callers normalize first (strip blanks, upper-case a trailing ``x``): an input that needs it
    is a conformance finding of its own.
    """
    birth, sex = birth_and_sex(number)
    return CitizenId(region=number[:6], birth_date=birth, sex=sex)


def birth_and_sex(number: str) -> tuple[dt.date, int]:
    """What :func:`parse` finds, without building a :class:`CitizenId` (the quality checks ask
    it of every patient record); raises the same errors."""
    if len(number) != LENGTH:
        raise InvalidIdentifierError(
            Reason.LENGTH, f"citizen ID has {len(number)} characters, expected {LENGTH}"
        )
    if not _digits(number[:17]) or not (_digits(number[17]) or number[17] == "X"):
        raise InvalidIdentifierError(
            Reason.CHARACTERS, "citizen ID must be 17 digits followed by a digit or 'X'"
        )
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise InvalidIdentifierError(
            Reason.BIRTH_DATE, "citizen ID birth date field is not a calendar date"
        ) from exc
    if check_char(number[:17]) != number[17]:
        raise InvalidIdentifierError(Reason.CHECKSUM, "citizen ID check character does not match")
    return birth, MALE if int(number[14:17]) % 2 else FEMALE


def is_valid(number: str) -> bool:
    """Whether ``number`` passes every check of :func:`parse`."""
    try:
        parse(number)
    except InvalidIdentifierError:
        return False
    return True


def mask(number: str) -> str:
    """Display form keeping the first 6 and last 4 characters: ``110105********002X``.

    Anything too short to keep 10 characters is masked whole, so a malformed value never leaks.
    """
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]
