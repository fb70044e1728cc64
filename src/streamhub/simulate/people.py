"""Patients and staff: names, resident ID numbers, phones and addresses that pass their checks."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from streamhub.codes import catalogue, citizen_id


@dataclass(frozen=True)
class Person:
    name: str
    sex: str  # canonical: male / female
    birth_date: date
    id_number: str
    phone: str
    address: str
    region_code: str


class PeopleFactory:
    def __init__(self, rng: random.Random, today: date, roads: list[str]) -> None:
        self._rng = rng
        self._today = today
        self._roads = roads
        names = catalogue.names()
        self._surnames = names.surnames
        self._given = names.given
        self._regions = catalogue.regions()

    def name(self) -> str:
        rng = self._rng
        # the catalogue lists surnames by frequency: favour the common ones
        surname = self._surnames[min(int(rng.expovariate(1 / 12)), len(self._surnames) - 1)]
        given = "".join(rng.choice(self._given) for _ in range(rng.choice((1, 2, 2))))
        return surname + given

    def person(self) -> Person:
        rng = self._rng
        sex = rng.choice(("male", "female"))
        age_days = int(min(rng.gammavariate(2.2, 18), 99) * 365.25) + rng.randrange(365)
        birth = self._today - timedelta(days=age_days)
        region = rng.choice(self._regions)
        sequence = rng.randrange(500) * 2 + (1 if sex == "male" else 0)
        district = region.district
        return Person(
            name=self.name(),
            sex=sex,
            birth_date=birth,
            id_number=citizen_id.make(region.code, birth, sequence),
            phone=f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            address=f"{district}{rng.choice(self._roads)}{rng.randrange(1, 999)}号",
            region_code=region.code,
        )


def corrupt_check_char(number: str, rng: random.Random) -> str:
    """The same ID number with a wrong check character (a typo a checksum must catch)."""
    good = number[-1]
    bad = rng.choice([c for c in "0123456789X" if c != good])
    return number[:-1] + bad
