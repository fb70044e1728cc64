"""Institution names and districts from the credit code's administrative division."""

from __future__ import annotations

from streamhub.codes import credit_code
from streamhub.core.clock import ManualClock
from streamhub.web.catalog_api import group_of, type_text
from streamhub.web.institutions import UNKNOWN, Directory, region_code_of

SIMING = credit_code.make("1", "2", "350203", "15498973")
NOWHERE = credit_code.make("1", "2", "990000", "15498973")


def test_region_code_is_characters_three_to_eight() -> None:
    assert region_code_of(SIMING) == "350203"
    assert region_code_of("12") is None


def test_directory_names_and_districts() -> None:
    loads = []

    def load() -> dict[str, str]:
        loads.append(1)
        return {SIMING: "厦门市第一医院"}

    clock = ManualClock(0.0)
    directory = Directory(load, clock=clock)
    first = directory.get(SIMING)
    assert (first.name, first.district, first.region_code) == ("厦门市第一医院", "思明区", "350203")
    other = directory.get(NOWHERE)
    assert (other.name, other.district, other.region_code) == (UNKNOWN, UNKNOWN, None)
    assert directory.known_ids() == [SIMING]
    assert "思明区" in directory.known_districts() and UNKNOWN in directory.known_districts()
    clock.set(61.0)
    directory.get(SIMING)
    assert len(loads) == 2  # re-read after a minute, not on every request


def test_catalog_groups_and_type_text() -> None:
    assert [group_of(n) for n in ("cdc.raw.his", "std.exam", "ops.anomaly", "dlq.land")] == [
        "raw",
        "std",
        "ops",
        "dlq",
    ]
    assert type_text(["null", "string"]) == "null|string"
    assert type_text({"type": "long", "logicalType": "timestamp-millis"}) == (
        "long(timestamp-millis)"
    )
    decimal = {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}
    assert type_text(["null", decimal]) == "null|bytes(decimal, 18, 2)"
    assert type_text({"type": "map", "values": ["null", "string"]}) == "map<null|string>"
    assert type_text({"type": "enum", "name": "Op", "symbols": ["c", "u"]}) == "enum(c,u)"
