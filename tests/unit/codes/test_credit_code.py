"""GB 32100 unified social credit code and its embedded GB 11714 organisation code."""

from __future__ import annotations

import pytest

from streamhub.codes import credit_code
from streamhub.codes.errors import InvalidIdentifierError, Reason

VALID = ("123502001549897397", "91350200776049653A")


@pytest.mark.parametrize("code", VALID)
def test_known_valid_codes_pass_both_checks(code: str) -> None:
    credit_code.validate(code)
    assert credit_code.is_valid(code)
    assert credit_code.org_code_check(code[8:16]) == code[16]
    assert credit_code.check_char(code[:17]) == code[17]


@pytest.mark.parametrize("code", VALID)
def test_every_other_check_char_fails_with_checksum_reason(code: str) -> None:
    for wrong in credit_code.ALPHABET.replace(code[17], ""):
        with pytest.raises(InvalidIdentifierError) as caught:
            credit_code.validate(code[:17] + wrong)
        assert caught.value.reason is Reason.CHECKSUM


def test_changed_org_code_check_fails_org_checksum() -> None:
    code = VALID[0]
    changed = code[:16] + "0" + code[17]  # org check 9 -> 0, USCC check untouched
    with pytest.raises(InvalidIdentifierError) as caught:
        credit_code.validate(changed)
    assert caught.value.reason is Reason.ORG_CHECKSUM


def test_org_code_check_maps_10_to_x_and_11_to_0() -> None:
    # weighted sums: 1*3 = 3 -> 11 - 3 = 8; 1*9 = 9 -> 2; 1*3 + 1*7 + 1*2 = 12 -> 11 - 1 = 10
    assert credit_code.org_code_check("10000000") == "8"
    assert credit_code.org_code_check("00100000") == "2"
    assert credit_code.org_code_check("11000001") == "X"
    assert credit_code.org_code_check("00000000") == "0"
    # letters count A=10: 10*3 = 30 -> 11 - 8 = 3
    assert credit_code.org_code_check("A0000000") == "3"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("12350200154989739", Reason.LENGTH),
        ("1235020015498973970", Reason.LENGTH),
        ("12350200154989739I", Reason.CHARACTERS),  # I is not in the alphabet
        ("913502007760496s3A", Reason.CHARACTERS),  # lower case
        ("12A502001549897397", Reason.REGION),
    ],
)
def test_malformed_codes_name_their_reason(code: str, reason: Reason) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        credit_code.validate(code)
    assert caught.value.reason is reason
    assert not credit_code.is_valid(code)


def test_make_reproduces_known_codes() -> None:
    assert credit_code.make("1", "2", "350200", "15498973") == VALID[0]
    assert credit_code.make("9", "1", "350200", "77604965") == VALID[1]


@pytest.mark.parametrize("org_base", ["00000000", "12345678", "MA2XN7K1", "99999999"])
def test_make_output_validates(org_base: str) -> None:
    code = credit_code.make("9", "1", "350203", org_base)
    assert credit_code.is_valid(code)
    assert code[8:16] == org_base


@pytest.mark.parametrize(
    ("dept", "org_type", "region", "org_base"),
    [
        ("I", "2", "350200", "15498973"),
        ("12", "2", "350200", "15498973"),
        ("1", "2", "35020", "15498973"),
        ("1", "2", "350200", "1549897"),
        ("1", "2", "350200", "1549897O"),
    ],
)
def test_make_rejects_bad_input(dept: str, org_type: str, region: str, org_base: str) -> None:
    with pytest.raises(ValueError):
        credit_code.make(dept, org_type, region, org_base)
