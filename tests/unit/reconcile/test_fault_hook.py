"""The lander's fault injection for drills: loses exactly the versions divisible by N."""

from __future__ import annotations

import pytest

from streamhub.core.identity import version_id
from streamhub.land.batch import Origin, PendingRow
from streamhub.land.errors import LandError
from streamhub.land.lander import FAULT_DROP_ENV, _drop_for_drill, drop_every_from_env


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
    kept = _drop_for_drill(batch, 7)
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
    with pytest.raises(LandError, match=FAULT_DROP_ENV):
        drop_every_from_env()
