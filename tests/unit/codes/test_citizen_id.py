"""GB 11643 citizen ID: checksum, parsing, generation and masking."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from streamhub.codes import citizen_id
from streamhub.codes.errors import InvalidIdentifierError, Reason

VALID = ("11010519491231002X", "34052419800101001X")


@pytest.mark.parametrize("number", VALID)
def test_known_valid_numbers_pass(number: str) -> None:
    assert citizen_id.is_valid(number)
    assert citizen_id.check_char(number[:17]) == number[17]


def test_parse_reads_region_birth_date_and_sex() -> None:
    parsed = citizen_id.parse("11010519491231002X")
    assert parsed == citizen_id.CitizenId("110105", dt.date(1949, 12, 31), citizen_id.FEMALE)
    assert citizen_id.parse("34052419800101001X").sex == citizen_id.MALE


@pytest.mark.parametrize("number", VALID)
def test_every_other_check_char_fails_with_checksum_reason(number: str) -> None:
    for wrong in "0123456789X".replace(number[17], ""):
        with pytest.raises(InvalidIdentifierError) as caught:
            citizen_id.parse(number[:17] + wrong)
        assert caught.value.reason is Reason.CHECKSUM


def test_changed_body_digit_fails_checksum() -> None:
    # a sequence digit changes, the birth date stays valid: only the checksum can catch it
    assert not citizen_id.is_valid("11010519491231003X")


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("11010519491231002", Reason.LENGTH),
        ("11010519491231002X1", Reason.LENGTH),
        ("11010519491231002x", Reason.CHARACTERS),
        ("1101051949123100AX", Reason.CHARACTERS),
        ("１1010519491231002X", Reason.CHARACTERS),  # full-width digit
        ("110105194902300020", Reason.BIRTH_DATE),  # 30 February
        ("110105194913010020", Reason.BIRTH_DATE),  # month 13
    ],
)
def test_malformed_numbers_name_their_reason(number: str, reason: Reason) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        citizen_id.parse(number)
    assert caught.value.reason is reason
    assert number not in str(caught.value)  # never echo a personal identifier


@pytest.mark.parametrize(
    ("birth", "sequence", "sex"),
    [
        (dt.date(1949, 12, 31), 2, citizen_id.FEMALE),
        (dt.date(1980, 1, 1), 1, citizen_id.MALE),
        (dt.date(2000, 2, 29), 999, citizen_id.MALE),
        (dt.date(2024, 7, 15), 0, citizen_id.FEMALE),
    ],
)
def test_make_round_trips_through_parse(birth: dt.date, sequence: int, sex: int) -> None:
    number = citizen_id.make("350203", birth, sequence)
    assert len(number) == 18
    assert number[14:17] == f"{sequence:03d}"
    assert citizen_id.parse(number) == citizen_id.CitizenId("350203", birth, sex)


def test_make_reproduces_known_number() -> None:
    assert citizen_id.make("110105", dt.date(1949, 12, 31), 2) == VALID[0]


@pytest.mark.parametrize(
    ("region", "sequence"), [("35020", 1), ("35020A", 1), ("350203", -1), ("350203", 1000)]
)
def test_make_rejects_bad_input(region: str, sequence: int) -> None:
    with pytest.raises(ValueError):
        citizen_id.make(region, dt.date(1990, 1, 1), sequence)


def test_check_char_is_the_weighted_digit_sum() -> None:
    """GB 11643's definition, digit by digit, against the byte arithmetic check_char uses."""
    rng = random.Random(11643)
    bodies = ["0" * 17, "9" * 17] + ["".join(rng.choices("0123456789", k=17)) for _ in range(5000)]
    for body in bodies:
        total = sum(int(c) * w for c, w in zip(body, citizen_id.WEIGHTS, strict=True))
        assert citizen_id.check_char(body) == citizen_id.CHECK_CHARS[total % 11]


def test_birth_and_sex_is_what_parse_states() -> None:
    rng = random.Random(3)
    for _ in range(500):
        birth = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(45000))
        number = citizen_id.make("350203", birth, rng.randrange(1000))
        parsed = citizen_id.parse(number)
        assert citizen_id.birth_and_sex(number) == (parsed.birth_date, parsed.sex)
    with pytest.raises(InvalidIdentifierError) as caught:
        citizen_id.birth_and_sex("110105194902300020")
    assert caught.value.reason is Reason.BIRTH_DATE


def test_check_char_rejects_wrong_body() -> None:
    with pytest.raises(ValueError):
        citizen_id.check_char("1101051949123100")


def test_mask_keeps_first_six_and_last_four() -> None:
    assert citizen_id.mask("11010519491231002X") == "110105********002X"
    assert citizen_id.mask("1234567890") == "**********"
    assert citizen_id.mask("") == ""
