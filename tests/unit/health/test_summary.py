"""The summary an operator reads first at a province's count, and the filters."""

from __future__ import annotations

import pytest

from streamhub.codes import credit_code
from streamhub.health.errors import FilterError
from streamhub.health.model import HOPS, HopHealth, InstitutionHealth, Status
from streamhub.health.summary import district_codes, select, summarize, worst_first

SIMING = "350203"  # 厦门市思明区 in the packaged region catalogue
HULI = "350206"  # 厦门市湖里区


def inst(index: int, region: str = SIMING, **hops: Status) -> InstitutionHealth:
    return InstitutionHealth(
        institution_id=credit_code.make("1", "2", region, f"{index:08d}"),
        name=None,
        hops=tuple(HopHealth(hop, hops.get(hop, Status.HEALTHY)) for hop in HOPS),
    )


def test_counts_per_state_and_the_worst_not_healthy_first() -> None:
    healthy = [inst(i) for i in range(20)]
    degraded = inst(30, center=Status.DEGRADED)
    down_one_hop = inst(31, capture=Status.DOWN)
    down_two_hops = inst(32, source=Status.DOWN, capture=Status.DOWN)
    down_and_degraded = inst(33, capture=Status.DOWN, center=Status.DEGRADED)
    everyone = [degraded, *healthy, down_one_hop, down_and_degraded, down_two_hops]

    summary = summarize(everyone, worst_n=3)

    assert summary.total == 24
    assert summary.counts == {"healthy": 20, "degraded": 1, "down": 3}
    assert summary.worst == [down_two_hops, down_and_degraded, down_one_hop]
    assert summary.worst_status is Status.DOWN
    assert summarize(everyone, worst_n=10).worst[-1] == degraded  # healthy ones never listed
    assert summarize(healthy).worst == [] and summarize(healthy).worst_status is Status.HEALTHY


def test_worst_first_breaks_ties_by_id() -> None:
    a, b = inst(2, capture=Status.DOWN), inst(1, capture=Status.DOWN)
    assert worst_first([a, b]) == [b, a]


def test_a_district_by_name_full_name_code_or_prefix() -> None:
    siming, huli = inst(1, SIMING), inst(2, HULI)
    both = [siming, huli]
    assert select(both, districts=["思明区"]) == [siming]
    assert select(both, districts=["厦门市湖里区"]) == [huli]
    assert select(both, districts=[HULI]) == [huli]
    assert select(both, districts=["3502"]) == both
    assert select(both, districts=["思明区", "湖里区"]) == both
    assert district_codes("思明区") == {SIMING}


def test_an_unknown_district_or_state_is_a_usage_error_naming_the_choices() -> None:
    with pytest.raises(FilterError, match=r"no district 'Atlantis'.*思明区") as caught:
        select([inst(1)], districts=["Atlantis"])
    assert caught.value.exit_code == 2
    with pytest.raises(FilterError, match="no state sleepy"):
        select([inst(1)], states=["sleepy"])


def test_filters_combine_and_an_empty_filter_keeps_all() -> None:
    ok, down, down_elsewhere = (
        inst(1),
        inst(2, capture=Status.DOWN),
        inst(3, HULI, source=Status.DOWN),
    )
    everyone = [ok, down, down_elsewhere]
    assert select(everyone) == everyone
    assert select(everyone, states=["down"]) == [down, down_elsewhere]
    assert select(everyone, states=["down"], districts=["思明区"]) == [down]
    assert select(everyone, institutions=[ok.institution_id, down.institution_id]) == [ok, down]
