"""The registry's rules, without Kafka: records are applied as the store would after an ack."""

import json

import pytest

from streamhub.registry.errors import (
    InvalidCompatibilityLevelError,
    RegistryIncompatibleSchemaError,
    RegistryInvalidSchemaError,
    SchemaNotFoundError,
    SubjectNotFoundError,
)
from streamhub.registry.state import RegistryState

V1 = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]})
V2 = json.dumps(
    {
        "type": "record",
        "name": "R",
        "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "int", "default": 0}],
    }
)
BREAKING = json.dumps(
    {
        "type": "record",
        "name": "R",
        "fields": [{"name": "a", "type": "string"}, {"name": "c", "type": "int"}],
    }
)


def register(state: RegistryState, subject: str, text: str) -> int:
    schema_id, record = state.plan_register(subject, text)
    if record is not None:
        state.apply(*record)
    return schema_id


def test_same_schema_twice_is_one_version_and_one_id() -> None:
    state = RegistryState()
    first = register(state, "s-value", V1)
    again = register(state, "s-value", json.dumps(json.loads(V1), indent=4))  # other spacing
    assert first == again
    assert [v.version for v in state.versions("s-value")] == [1]


def test_ids_are_shared_across_subjects_and_versions_grow() -> None:
    state = RegistryState()
    a = register(state, "a-value", V1)
    b = register(state, "b-value", V1)
    c = register(state, "a-value", V2)
    assert a == b and c == a + 1
    assert state.version("a-value", "latest").schema_id == c


def test_incompatible_change_is_refused_at_default_backward_level() -> None:
    state = RegistryState()
    register(state, "s-value", V1)
    with pytest.raises(RegistryIncompatibleSchemaError, match="c: field added without a default"):
        state.plan_register("s-value", BREAKING)
    state.apply(*state.plan_level("s-value", "NONE"))
    assert register(state, "s-value", BREAKING) > 0


def test_soft_then_permanent_delete() -> None:
    state = RegistryState()
    register(state, "s-value", V1)
    for record in state.plan_delete("s-value", None, permanent=False):
        state.apply(*record)
    with pytest.raises(SubjectNotFoundError):
        state.versions("s-value")
    assert state.subject_names(include_deleted=True) == ["s-value"]
    for record in state.plan_delete("s-value", None, permanent=True):
        state.apply(*record)
    assert state.subject_names(include_deleted=True) == []


def test_bad_inputs_raise_registry_errors_with_codes() -> None:
    state = RegistryState()
    with pytest.raises(RegistryInvalidSchemaError) as bad:
        state.plan_register("s", '{"type": "nope"}')
    assert bad.value.error_code == 42201
    with pytest.raises(SchemaNotFoundError):
        state.schema(99)
    with pytest.raises(InvalidCompatibilityLevelError):
        state.plan_level(None, "SIDEWAYS")
