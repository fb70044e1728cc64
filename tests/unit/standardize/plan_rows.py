"""Rows as the standardizer receives them, from the simulator's own workload.

The simulator's workload decides canonical changes (with its planted bad records), a dialect
renders them into its vendor's columns, and the capture agent delivers each column under its
Avro name with its Avro type: text decoded (an undecodable value is None), numeric as its
digits, timestamps naive at millisecond precision, dates as dates.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from streamhub.capture.envelope import avro_name
from streamhub.simulate import dialect as dialects
from streamhub.simulate.activity import load_activity
from streamhub.simulate.bad_records import BAD_KINDS
from streamhub.simulate.business_time import FLAT
from streamhub.simulate.dialect import Dialect, RowRenderer
from streamhub.simulate.flows import InstitutionWorkload
from streamhub.simulate.institutions import plan_institutions

ROOT = Path(__file__).resolve().parents[3]
PROFILES = ROOT / "connectors" / "profiles"
THIRD = ROOT / "tests" / "data" / "third_vendor"
START = datetime(2026, 3, 2, 8, 0, 0)
# (dialect, its profile): the PostgreSQL vendor, the MariaDB vendor and the third vendor
VENDORS: dict[str, tuple[str, Path]] = {
    "english_pg": ("english_pg", PROFILES / "english_pg.yaml"),
    "pinyin_gbk": ("pinyin_gbk", PROFILES / "pinyin_gbk.yaml"),
    "third_vendor": (str(THIRD / "dialect.yaml"), THIRD / "profile.yaml"),
}


def arriving(value: object, encoding: str) -> object:
    """A rendered column value as the capture agent delivers it."""
    if isinstance(value, bytes):
        try:
            return value.decode(encoding)
        except UnicodeDecodeError:
            return None  # the agent dead-letters the value and sends the row without it
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, date | int | float | str | bool) or value is None:
        return value
    return str(value)


def simulated_rows(
    vendor: str, count: int, *, seed: int = 17, bad_fraction: float = 0.05
) -> Iterator[tuple[str, dict[str, object]]]:
    """``count`` (table, row) pairs of one vendor's hospital in the order the workload wrote
    them: full row images of inserts and updates, the last image of deletes."""
    dialect = dialects.load(VENDORS[vendor][0])
    [institution] = plan_institutions(
        hospitals=1, clinics=0, dialects=[VENDORS[vendor][0]], seed=seed
    )
    workload = InstitutionWorkload(
        institution,
        load_activity(),
        seed=seed,
        start=START - timedelta(hours=2),
        rows_per_second=200.0,
        rows_per_arrival=8.0,
        compression=144.0,
        curve=FLAT,
    )
    workload.configure(bad_fraction=bad_fraction, bad_kinds=BAD_KINDS, raw_text=dialect.raw_text)
    workload.seed_state(patients=50, inpatients=10)
    renderers = {entity: RowRenderer(dialect, entity) for entity in dialect.tables}
    state: dict[tuple[str, int], dict[str, object]] = {}
    pending = workload.take_seeded()
    made = 0
    while made < count:
        if not pending:
            pending = workload.step()
            continue
        change = pending.pop(0)
        if change.entity not in renderers:
            continue
        image = state.setdefault((change.entity, change.key), {})
        image.update(change.values)
        if change.op == "d":
            del state[(change.entity, change.key)]
        yield (
            dialect.tables[change.entity].name,
            _delivered(dialect, renderers[change.entity], image),
        )
        made += 1


def _delivered(
    dialect: Dialect, renderer: RowRenderer, image: dict[str, object]
) -> dict[str, object]:
    rendered = renderer.render(image)
    return {avro_name(k): arriving(v, dialect.text_encoding) for k, v in rendered.items()}
