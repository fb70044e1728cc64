"""Shared identities and the dead-letter record match what every stage relies on."""

from __future__ import annotations

import json
from pathlib import Path

from streamhub.core.dead_letter import DeadLetterRecord, Original, Placement
from streamhub.core.identity import (
    canonical_key,
    change_version,
    further_record_id,
    is_further,
    row_record_id,
    version_id,
)
from streamhub.core.topic_names import RAW_TOPICS

ROOT = Path(__file__).resolve().parents[3]


def test_canonical_key_is_sorted_compact_and_keeps_text() -> None:
    assert canonical_key({"b": 2, "a": "张三"}) == '{"a":"张三","b":2}'


# keys of every JSON kind a capture key holds (and a few it should not), with their canonical
# text: record ids are tokens of this text, so it must never change
PINNED: list[tuple[dict[str, object], str]] = [
    ({}, "{}"),
    ({"id": 1}, '{"id":1}'),
    ({"z": None, "a": True, "m": False}, '{"a":true,"m":false,"z":null}'),
    ({"n": -(2**70), "f": 1.5, "e": 1e-7}, '{"e":1e-07,"f":1.5,"n":-1180591620717411303424}'),
    ({"s": 'q"\\\n\t\x00\x7f/'}, '{"s":"q\\"\\\\\\n\\t\\u0000\x7f/"}'),
    (
        {"病人号": "张三 ", "B": "é", "a": "\U0001f600"},
        '{"B":"é","a":"\U0001f600","病人号":"张三 "}',
    ),
    ({"nan": float("nan"), "inf": float("inf")}, '{"inf":Infinity,"nan":NaN}'),
    ({"nested": {"b": [2, 1], "a": {}}}, '{"nested":{"a":{},"b":[2,1]}}'),
    ({"lone": "\ud800"}, '{"lone":"\ud800"}'),
]


def test_canonical_key_text_is_pinned_and_is_json_dumps_with_its_options() -> None:
    for key, text in PINNED:
        assert canonical_key(key) == text
        assert text == json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert canonical_key(key) == canonical_key(key)  # the encoder keeps no state


def test_a_further_entity_shares_its_rows_change_version() -> None:
    rid = "ab12"
    further = further_record_id(rid, "diagnosis")
    assert is_further(further) and not is_further(rid)
    assert row_record_id(further) == rid
    assert change_version(further, 7) == change_version(rid, 7) == version_id(rid, 7)
    assert version_id(rid, 7) != version_id(rid, 8)
    assert -(2**63) <= version_id(rid, 7) < 2**63


def test_the_dead_letter_record_has_exactly_the_schemas_fields() -> None:
    schema = json.loads((ROOT / "avro_schemas/ops/dead_letter.avsc").read_text())
    letter = DeadLetterRecord(
        stage="land",
        reason="r",
        error_type="E",
        failed_ts_ms=1,
        original=Original(topic="std.charge", partition=0, offset=3, key=b"k", value=b"v"),
        placement=Placement(system="his", version=5),
    )
    assert sorted(letter.to_avro()) == sorted(f["name"] for f in schema["fields"])
    assert letter.to_avro()["original_offset"] == 3


def test_raw_topics_follow_the_convention() -> None:
    assert RAW_TOPICS == ("cdc.raw.his", "cdc.raw.emr", "cdc.raw.lis", "cdc.raw.pacs")
