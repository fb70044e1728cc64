"""GB 32100 unified social credit code, embedding a GB 11714 organisation code.

Layout: registration department (1) + organisation type (1) + region (6) + organisation code
(8 + its own check) + check character.
"""

from __future__ import annotations

from streamhub.codes.errors import InvalidIdentifierError, Reason

LENGTH = 18
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
ORG_CHECK_CHARS = "0123456789X"  # indexed by (11 - sum mod 11) mod 11: 11 -> 0, 10 -> X
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def _in_alphabet(text: str) -> bool:
    return all(c in _VALUE for c in text)


def check_char(first17: str) -> str:
    """The check character for the first 17 characters."""
    if len(first17) != LENGTH - 1 or not _in_alphabet(first17):
        raise ValueError(f"a credit code body is 17 characters from {ALPHABET}")
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def org_code_check(first8: str) -> str:
    """The GB 11714 check character of an 8-character organisation code body."""
    if len(first8) != 8 or not all(c.isascii() and (c.isdigit() or c.isupper()) for c in first8):
        raise ValueError("an organisation code body is 8 ASCII digits or capital letters")
    # GB 11714 values letters A=10 … Z=35, so int(c, 36) is exactly its table
    total = sum(int(c, 36) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    return ORG_CHECK_CHARS[(11 - total % 11) % 11]


def make(registration_dept: str, org_type: str, region: str, org_base: str) -> str:
    """A valid code, e.g. ``make("1", "2", "350200", "15498973")`` for a public institution."""
    for name, value in (("registration_dept", registration_dept), ("org_type", org_type)):
        if len(value) != 1 or not _in_alphabet(value):
            raise ValueError(f"{name} must be one character from {ALPHABET}, got {value!r}")
    if len(region) != 6 or not (region.isascii() and region.isdigit()):
        raise ValueError(f"region must be 6 ASCII digits, got {region!r}")
    if len(org_base) != 8 or not _in_alphabet(org_base):
        raise ValueError(f"org_base must be 8 characters from {ALPHABET}, got {org_base!r}")
    body = registration_dept + org_type + region + org_base + org_code_check(org_base)
    return body + check_char(body)


def validate(code: str) -> None:
    """Raise :class:`InvalidIdentifierError` with the first reason ``code`` fails."""
    if len(code) != LENGTH:
        raise InvalidIdentifierError(
            Reason.LENGTH, f"credit code {code!r} has {len(code)} characters, expected {LENGTH}"
        )
    if not _in_alphabet(code):
        raise InvalidIdentifierError(
            Reason.CHARACTERS, f"credit code {code!r} has characters outside {ALPHABET}"
        )
    if not code[2:8].isdigit():
        raise InvalidIdentifierError(
            Reason.REGION, f"credit code {code!r}: region (positions 3-8) is not 6 digits"
        )
    if org_code_check(code[8:16]) != code[16]:
        raise InvalidIdentifierError(
            Reason.ORG_CHECKSUM,
            f"credit code {code!r}: organisation code check (position 17) does not match",
        )
    if check_char(code[:17]) != code[17]:
        raise InvalidIdentifierError(
            Reason.CHECKSUM, f"credit code {code!r}: check character does not match"
        )


def is_valid(code: str) -> bool:
    """Whether ``code`` passes every check of :func:`validate`."""
    try:
        validate(code)
    except InvalidIdentifierError:
        return False
    return True
