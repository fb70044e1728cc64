"""The simulated institutions: who they are, which dialect they run, where their data lives."""

from __future__ import annotations

import random
from dataclasses import dataclass

from streamhub.codes import catalogue, credit_code
from streamhub.simulate.activity import Kind, load_activity
from streamhub.simulate.dialect import Engine, load

CHINESE_ORDINALS = "一二三四五六七八九十"


@dataclass(frozen=True)
class Institution:
    key: str  # short, stable within a run: h01, c01 …
    kind: Kind
    name: str
    credit_code: str  # 统一社会信用代码: the institution id across the platform
    region_code: str
    district: str
    dialect: str
    engine: Engine
    systems: tuple[str, ...]
    weight: float
    index: int

    def database(self, prefix: str, system: str) -> str:
        return f"{prefix}_{self.key}_{system}"


def plan_institutions(
    *,
    hospitals: int,
    clinics: int,
    dialects: list[str],
    seed: int,
) -> list[Institution]:
    """Deterministic institutions; dialects (and so engines) are assigned round-robin."""
    rng = random.Random(f"{seed}:institutions")
    activity = load_activity()
    regions = catalogue.regions()
    planned: list[Institution] = []
    used_codes: set[str] = set()
    for kind, count in (("hospital", hospitals), ("clinic", clinics)):
        for n in range(1, count + 1):
            index = len(planned)
            region = rng.choice(regions)
            dialect = load(dialects[index % len(dialects)])
            code = _credit_code(rng, region.code, used_codes)
            ordinal = CHINESE_ORDINALS[(n - 1) % 10]
            if kind == "hospital":
                name = f"{region.district}第{ordinal}人民医院"
            else:
                name = f"{region.district}第{ordinal}社区卫生服务中心"
            wanted = set(activity.systems[kind])  # type: ignore[index]
            planned.append(
                Institution(
                    key=f"{kind[0]}{n:02d}",
                    kind=kind,  # type: ignore[arg-type]
                    name=name,
                    credit_code=code,
                    region_code=region.code,
                    district=region.district,
                    dialect=dialect.name,
                    engine=dialect.engine,
                    systems=tuple(s for s in dialect.systems() if s in wanted),
                    weight=activity.weight[kind],  # type: ignore[index]
                    index=index,
                )
            )
    return planned


def _credit_code(rng: random.Random, region: str, used: set[str]) -> str:
    # public medical institutions register as 事业单位: department 1, type 2 ("12…")
    while True:
        code = credit_code.make("1", "2", region, f"{rng.randrange(10**8):08d}")
        if code not in used:
            used.add(code)
            return code
