from typing import Any

import pytest

from streamhub.serde.compatibility import check_level, reader_can_read

V1: dict[str, Any] = {
    "type": "record",
    "name": "Visit",
    "namespace": "t",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "count", "type": "int"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["OUT", "ER"]}},
    ],
}


def with_fields(*fields: dict[str, Any]) -> dict[str, Any]:
    return {**V1, "fields": [*V1["fields"], *fields]}


def test_adding_a_field_with_default_is_backward_compatible() -> None:
    v2 = with_fields({"name": "dept", "type": ["null", "string"], "default": None})
    assert reader_can_read(v2, V1) == []
    assert check_level("BACKWARD", v2, [V1]) == []


def test_adding_a_field_without_default_is_not() -> None:
    v2 = with_fields({"name": "dept", "type": "string"})
    problems = check_level("BACKWARD", v2, [V1])
    assert len(problems) == 1 and "dept" in problems[0] and "default" in problems[0]


def test_removing_a_field_breaks_forward_but_not_backward() -> None:
    v2 = {**V1, "fields": V1["fields"][:1] + V1["fields"][2:]}
    assert check_level("BACKWARD", v2, [V1]) == []
    assert any("count" in p for p in check_level("FORWARD", v2, [V1]))


def test_type_promotion_int_to_long_reads_but_not_back() -> None:
    v2 = {**V1, "fields": [V1["fields"][0], {"name": "count", "type": "long"}, V1["fields"][2]]}
    assert reader_can_read(v2, V1) == []
    assert reader_can_read(V1, v2) != []


def test_enum_losing_a_symbol_cannot_read_old_data() -> None:
    narrow = {"type": "enum", "name": "Kind", "symbols": ["OUT"]}
    v2 = {**V1, "fields": [*V1["fields"][:2], {"name": "kind", "type": narrow}]}
    assert any("ER" in p for p in reader_can_read(v2, V1))


def test_nullable_widening_and_union_narrowing() -> None:
    nullable = {**V1, "fields": [{"name": "id", "type": ["null", "string"]}, *V1["fields"][1:]]}
    assert reader_can_read(nullable, V1) == []
    assert reader_can_read(V1, nullable) != []  # a null written by v2 has no place in v1


def test_renamed_record_is_incompatible_unless_aliased() -> None:
    renamed = {**V1, "name": "Encounter"}
    assert reader_can_read(renamed, V1) != []
    assert reader_can_read({**renamed, "aliases": ["Visit"]}, V1) == []


def test_transitive_checks_every_earlier_version() -> None:
    v2 = with_fields({"name": "dept", "type": "string", "default": "x"})
    v3 = {**v2, "fields": [*V1["fields"][:1], *v2["fields"][2:]]}  # drops count
    assert check_level("FORWARD", v3, [V1, v2]) != []
    assert check_level("NONE", v3, [V1, v2]) == []


@pytest.mark.parametrize("level", ["BACKWARD", "FULL_TRANSITIVE"])
def test_first_version_is_always_accepted(level: Any) -> None:
    assert check_level(level, V1, []) == []


def test_recursive_named_types_do_not_loop() -> None:
    node = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"], "default": None}],
    }
    assert reader_can_read(node, node) == []
