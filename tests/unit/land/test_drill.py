"""The lander's fault injection for drills: loses exactly the versions divisible by N."""

from __future__ import annotations

import pytest

from streamhub.core.identity import version_id
from streamhub.land.batch import Origin, PendingRow
from streamhub.land.drill import FAULT_DROP_ENV, drill_from_env, drop_every_from_env, drop_for_drill
from streamhub.land.errors import LanderConfigError
from streamhub.land.insert import Landing
from streamhub.land.targets import TARGETS, Target


def rows(n: int) -> list[PendingRow]:
    return [
        PendingRow(
            [],
            {
                "record_id": f"r{i}",
                "source_position_seq": i,
                "institution_id": "I",
                "source_table": "public.t",
                "source_key": f'{{"id":{i}}}',
            },
            Origin("std.patient", 0, i, None, None),
        )
        for i in range(n)
    ]


def test_drops_exactly_the_versions_divisible_by_n() -> None:
    batch = rows(200)
    kept = drop_for_drill(batch, 7)
    dropped = [r for r in batch if r not in kept]
    assert dropped and len(kept) < 200
    assert all(
        version_id(r.record["record_id"], r.record["source_position_seq"]) % 7 == 0 for r in dropped
    )
    assert all(version_id(r.record["record_id"], r.record["source_position_seq"]) % 7 for r in kept)


def test_off_unless_set_and_refuses_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FAULT_DROP_ENV, raising=False)
    assert drop_every_from_env() == 0
    monkeypatch.setenv(FAULT_DROP_ENV, "5")
    assert drop_every_from_env() == 5
    monkeypatch.setenv(FAULT_DROP_ENV, "0")
    with pytest.raises(LanderConfigError, match=FAULT_DROP_ENV):
        drop_every_from_env()


class _Recording:
    def __init__(self) -> None:
        self.inserted: list[list[PendingRow]] = []

    def insert(self, target: Target, rows: list[PendingRow]) -> Landing:
        self.inserted.append(rows)
        return Landing(list(rows), [])


def test_unset_leaves_the_inserter_as_it_is_set_wraps_it() -> None:
    inner = _Recording()
    assert drill_from_env({})(inner) is inner
    drilled = drill_from_env({FAULT_DROP_ENV: "7"})(inner)
    batch = rows(50)
    landing = drilled.insert(TARGETS["patient"], batch)
    assert landing.landed == drop_for_drill(batch, 7) == inner.inserted[0]
    # ops tables are never drilled
    assert drilled.insert(TARGETS["ops_quality"], batch).landed == batch
