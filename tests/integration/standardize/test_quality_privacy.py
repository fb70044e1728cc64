"""Quality events of the real standardizer (real registry) quote no part of a personal value:
a bad birth date, a bad ID number, a birth date disagreeing with the ID number and a missing
name each give an ops.quality event whose message and observed hold nothing of the clear
values; the std.patient record holds nothing of them either (docs/decisions/privacy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.codes import citizen_id
from streamhub.config import Settings
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.pipeline import RELOAD_EVERY_S, Standardizer

from .test_standardizer import (  # noqa: F401 - standardizer: the fixture
    CLOCK,
    GOOD_ID,
    _connector,
    _decode,
    _event,
    _message,
    _row,
    _table,
    standardizer,
)

NAME, PHONE = "王小红", "13500000001"  # _row's


def _pieces(value: str) -> set[str]:
    size = 4 if value.isascii() else 2  # runs of 4 digits, or 2 Chinese characters
    return {value[i : i + size] for i in range(len(value) - size + 1)}


def test_quality_events_quote_no_personal_value(
    settings: Settings,
    standardizer: tuple[Standardizer, Path],  # noqa: F811 - the imported fixture
    unique: Any,
) -> None:
    processor, directory = standardizer
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    config = _connector(directory, unique("qp").replace("_", "-"))
    table = _table(unique("db").replace("-", "_"))
    bad_id = GOOD_ID[:-1] + "1"
    assert not citizen_id.is_valid(bad_id)
    rows = {
        "P1": {**_row("P1", GOOD_ID), "CSRQ": "1949-12-31"},  # not %Y%m%d
        "P2": _row("P2", bad_id),  # fails GB 11643
        "P3": {**_row("P3", GOOD_ID), "CSRQ": "19500101"},  # disagrees with the ID number
        "P4": {**_row("P4", GOOD_ID), "XM": None},  # required name missing
    }
    batch = [
        _message(serde, config, _event(table, "c", row, n), 20 + n)
        for n, row in enumerate(rows.values(), start=1)
    ]
    CLOCK.advance(RELOAD_EVERY_S)  # the connector files are read again at most this often
    out = _decode(serde, processor.process(batch))
    events = [value for topic, value in out if topic == "ops.quality"]
    assert {(e["rule"], e["field"]) for e in events} == {
        ("value_format", "birth_date"),
        ("id_checksum", "id_number"),
        ("id_birth_agreement", "birth_date"),
        ("required", "name"),
    }
    clear = [GOOD_ID, bad_id, "1949-12-31", "19491231", "19500101", NAME, PHONE]
    for event in events:
        assert event["observed"] is None, event
        text = f"{event['message']} {event['observed']}"
        leaked = [p for value in clear for p in _pieces(value) if p in text]
        assert not leaked, (event["message"], leaked)
        assert "1949" not in text and "1950" not in text
    patients = [value for topic, value in out if topic == "std.patient"]
    assert len(patients) == 4
    for record in patients:
        text = repr(
            {
                k: v
                for k, v in record.items()
                if k not in ("person_key", "record_id", "source_key", "patient_id")
            }
        )
        leaked = [p for value in clear for p in _pieces(value) if p in text]
        assert not leaked, leaked
        assert NAME[0] not in text and "1949" not in text
