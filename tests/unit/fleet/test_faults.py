from __future__ import annotations

from pathlib import Path

import pytest

from streamhub.fleet.errors import FleetFaultError
from streamhub.fleet.faults import FleetControl, FleetFault, parse_fault


def test_specs_read_like_the_simulators() -> None:
    assert parse_fault("outage:h0001@30s+20s") == FleetFault("outage", "h0001", 30.0, 20.0)
    burst = parse_fault("burst:c0003@1m,rows=3000,entity=charge")
    assert (burst.kind, burst.at_s, burst.rows, burst.entity) == ("burst", 60.0, 3000, "charge")
    silent = parse_fault("silent:12350203F00000017X@5s,system=lis")
    assert silent.institution == "12350203F00000017X" and silent.system == "lis"
    assert parse_fault("stuck:h0002").for_s == 0.0  # to the end of the run


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("alter:h0001@1s", "KIND one of"),
        ("outage:h0001@1s", "needs a duration"),
        ("burst:h0001,rows=many", "whole number"),
        ("stuck:h0001,colour=red", "unknown option"),
        ("outage h0001", "cannot read"),
    ],
)
def test_bad_specs_say_what_to_write(spec: str, message: str) -> None:
    with pytest.raises(FleetFaultError, match=message):
        parse_fault(spec)


def test_the_control_directory_hands_each_fault_over_once(tmp_path: Path) -> None:
    control = FleetControl(tmp_path / "control")
    assert control.receive() == []
    fault = parse_fault("silent:h0001+2m,system=his")
    control.send(fault)
    assert control.receive() == [fault]
    assert control.receive() == []
