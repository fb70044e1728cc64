"""The simulator's record mix as the checks and the pseudonymizer receive it: an hour of a few
institutions on both dialects and the third vendor, bad records planted, each row's full image
rendered by its dialect and mapped by its vendor's profile (``also`` entities included).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

from streamhub.simulate import dialect as dialects
from streamhub.simulate.activity import load_activity
from streamhub.simulate.bad_records import BAD_KINDS
from streamhub.simulate.business_time import DayCurve
from streamhub.simulate.dialect import RowRenderer
from streamhub.simulate.flows import InstitutionWorkload
from streamhub.simulate.institutions import plan_institutions
from streamhub.standardize.errors import StandardizeError
from streamhub.standardize.mapper import map_further, map_row
from streamhub.standardize.profile import load_profile

ROOT = Path(__file__).resolve().parents[3]
THIRD = ROOT / "tests" / "data" / "third_vendor"
VENDORS = {  # dialect file or name -> its profile
    "english_pg": ROOT / "connectors" / "profiles" / "english_pg.yaml",
    "pinyin_gbk": ROOT / "connectors" / "profiles" / "pinyin_gbk.yaml",
    str(THIRD / "dialect.yaml"): THIRD / "profile.yaml",
}
SEED = 20261206
START = datetime(2026, 3, 2, 7, 0)  # Shanghai wall clock


@dataclass(frozen=True)
class Mapped:
    entity: str
    values: dict[str, object]
    business_time: datetime | None
    institution_id: str


def _arriving(value: object, encoding: str) -> object:
    """A rendered column value as the capture agent delivers it (undecodable text replaced)."""
    if isinstance(value, bytes):
        return value.decode(encoding, errors="replace")
    if isinstance(value, Decimal):
        return str(value)
    return value


@cache
def mapped_records(hours: float = 2.0, bad_fraction: float = 0.05) -> tuple[Mapped, ...]:
    activity = load_activity()
    vendors = {
        dialects.load(d).name: (dialects.load(d), load_profile(p)) for d, p in VENDORS.items()
    }
    institutions = plan_institutions(hospitals=3, clinics=0, dialects=list(VENDORS), seed=SEED)
    out: list[Mapped] = []
    for inst in institutions:
        dialect, profile = vendors[inst.dialect]
        workload = InstitutionWorkload(
            inst, activity, seed=SEED, start=START, rows_per_second=0.2, rows_per_arrival=10.0,
            compression=1.0, curve=DayCurve(activity.day_curve),
        )  # fmt: skip
        workload.configure(bad_fraction=bad_fraction, bad_kinds=BAD_KINDS, raw_text=False)
        workload.seed_state(40, 10)
        changes = workload.take_seeded()
        while workload.next_time() < START + timedelta(hours=hours):
            changes.extend(workload.step())
        rows: dict[tuple[str, int], dict[str, object]] = {}
        renderers: dict[str, RowRenderer] = {}
        for change in changes:
            if change.op == "d" or change.entity not in dialect.tables:
                rows.pop((change.entity, change.key), None)
                continue
            row = rows.setdefault((change.entity, change.key), {})
            row.update(change.values)
            renderer = renderers.get(change.entity) or renderers.setdefault(
                change.entity, RowRenderer(dialect, change.entity)
            )
            table = dialect.tables[change.entity].name
            image = {
                c: _arriving(v, dialect.text_encoding) for c, v in renderer.render(row).items()
            }
            try:
                found = [map_row(profile, table, image)]
            except StandardizeError:
                continue  # not a record: the pipeline dead-letters it before any check
            found += [m for _, m in map_further(profile, table, image) if m is not None]
            out += [Mapped(m.entity, m.values, m.business_time, inst.credit_code) for m in found]
    return tuple(out)
