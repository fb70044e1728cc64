"""The institution mix of a province, scaled to N institutions.

A province like Zhejiang has 338 hospitals and 1,413 primary-care institutions (1,751). The
fleet keeps that proportion for any N (at least one hospital and, from N = 2, one clinic),
and gives hospitals sizes: a few large tertiary hospitals carry much of the traffic, many
small county hospitals little. A clinic's weight is the activity model's clinic weight.

Institutions are :class:`~streamhub.simulate.institutions.Institution` records, so the
simulator's workload runs them unchanged. Their credit codes are valid GB 32100 codes whose
organisation code starts with ``F`` (the simulator's are all digits): the fleet's ids never
collide with the database-backed simulated institutions, and codes already used by
connector files given in ``taken`` are skipped too.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass

from streamhub.codes import catalogue, credit_code
from streamhub.fleet.errors import FleetOptionsError
from streamhub.simulate.activity import load_activity
from streamhub.simulate.dialect import load
from streamhub.simulate.institutions import Institution

PROVINCE_HOSPITALS = 338
PROVINCE_CLINICS = 1413
PROVINCE = PROVINCE_HOSPITALS + PROVINCE_CLINICS
DIALECTS = ("english_pg", "pinyin_gbk")
# the province: hospitals run HIS, EMR, LIS and PACS; primary care HIS and LIS
SYSTEMS = {"hospital": ("his", "emr", "lis", "pacs"), "clinic": ("his", "lis")}


@dataclass(frozen=True)
class HospitalSize:
    name: str
    share: float  # of the hospitals
    weight: float  # traffic relative to the activity model's hospital (1.0)


# tertiary (三级), secondary (二级) and primary/unrated hospitals: roughly a province's split
SIZES = (
    HospitalSize("large", 0.15, 4.0),
    HospitalSize("medium", 0.35, 1.5),
    HospitalSize("small", 0.50, 0.6),
)


@dataclass(frozen=True)
class FleetMember:
    institution: Institution
    size: str  # large / medium / small for hospitals, clinic for clinics


def split(n: int) -> tuple[int, int]:
    """Hospitals and clinics among ``n`` institutions, in the province's proportion."""
    if n < 1:
        raise FleetOptionsError(f"a fleet needs at least one institution, got {n}")
    hospitals = max(1, round(n * PROVINCE_HOSPITALS / PROVINCE))
    if n >= 2:
        hospitals = min(hospitals, n - 1)
    return hospitals, n - hospitals


def hospital_sizes(count: int) -> list[HospitalSize]:
    """Sizes of ``count`` hospitals, largest first, in the SIZES shares (at least one large)."""
    sizes: list[HospitalSize] = []
    for size in SIZES[:-1]:
        sizes += [size] * max(1 if size is SIZES[0] else 0, round(count * size.share))
    sizes = sizes[:count]
    return sizes + [SIZES[-1]] * (count - len(sizes))


def plan_fleet(n: int, seed: int, taken: Collection[str] = ()) -> list[FleetMember]:
    """``n`` institutions, deterministic for ``seed``; dialects alternate (engine with it)."""
    rng = random.Random(f"{seed}:fleet")  # noqa: S311 - simulated data, not secrets
    clinic_weight = load_activity().weight["clinic"]
    regions = catalogue.regions()
    hospitals, clinics = split(n)
    used = set(taken)
    members: list[FleetMember] = []
    sizes = hospital_sizes(hospitals)
    for kind, count in (("hospital", hospitals), ("clinic", clinics)):
        for number in range(1, count + 1):
            index = len(members)
            region = rng.choice(regions)
            dialect = load(DIALECTS[index % len(DIALECTS)])
            wanted = SYSTEMS[kind]
            if kind == "hospital":
                size = sizes[number - 1]
                name = f"{region.district}第{number}医院"
                weight = size.weight
            else:
                size = None
                name = f"{region.district}第{number}社区卫生服务中心"
                weight = clinic_weight
            institution = Institution(
                key=f"{kind[0]}{number:04d}",
                kind=kind,  # type: ignore[arg-type]
                name=name,
                credit_code=_credit_code(rng, region.code, used),
                region_code=region.code,
                district=region.district,
                dialect=dialect.name,
                engine=dialect.engine,
                systems=tuple(s for s in dialect.systems() if s in wanted),
                weight=weight,
                index=index,
            )
            members.append(FleetMember(institution, size.name if size else "clinic"))
    return members


def _credit_code(rng: random.Random, region: str, used: set[str]) -> str:
    # a public institution (事业单位 "12"); the organisation code F + 7 digits is the fleet's
    while True:
        code = credit_code.make("1", "2", region, f"F{rng.randrange(10**7):07d}")
        if code not in used:
            used.add(code)
            return code
