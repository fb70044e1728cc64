"""Std records as plain dicts, exactly as the canonical model would dump them, without
validating again what the compiled mapping already typed.

The pydantic models (model.py) stay the source of truth: a :class:`RecordBuilder` is derived
from one model, once, and knows each field's exact Python type, its allowed values (a
``Literal``), its default and whether it is a decimal (the model refuses NaN and infinity).
A record whose values all have exactly the type the model keeps unchanged, within those
limits, is emitted as a dict directly: it equals ``model(**fields).model_dump()`` field for
field (tests/unit/standardize/test_plan_agreement.py proves it for every entity and vendor).
Anything else (a value of another type, which the model would coerce or refuse; a field the
model does not have; a literal or decimal out of range) goes through the model itself, so
what it refuses is refused with its own reasons (:class:`pydantic.ValidationError`) and what
it coerces is coerced its way. ``fallbacks`` counts those records: the plan's job is to keep
it at zero.

The fields every record carries (:class:`~streamhub.standardize.model.StdRecord`'s) come from
the change envelope, already checked field by field (envelope_check.py), and from the
standardizer itself; of those only ``business_time`` and ``cancelled`` come from the mapping,
and they are checked here like the entity's own fields.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from streamhub.standardize.avro_schema import optional_type
from streamhub.standardize.model import StdRecord

# what a field may hold, unchanged by the model's validation: exactly these types (a bool is
# not an int here, an int is not a float: the model would convert them)
PLAIN_TYPES: frozenset[type] = frozenset({str, int, float, bool, Decimal, datetime, date})
# base fields whose values the mapping gives (the others the envelope and the standardizer),
# with the one type the builder expects them to have in StdRecord (checked when it is built)
MAPPED_BASE_FIELDS = ("business_time", "cancelled")
_MAPPED_BASE_TYPES: dict[str, type] = {"business_time": datetime, "cancelled": bool}
# how many field-name-and-type layouts of the values one entity remembers as checked
SEEN_MAX = 4096


def _trusted(model: type[StdRecord]) -> bool:
    """Whether the model's validation is its fields' types and nothing more: no validator or
    serializer of its own, no computed field."""
    decorators = model.__pydantic_decorators__
    return not any(
        (
            decorators.validators,
            decorators.field_validators,
            decorators.root_validators,
            decorators.field_serializers,
            decorators.model_serializers,
            decorators.model_validators,
            decorators.computed_fields,
        )
    )


class _Rules:
    """What the model keeps unchanged, per field of one group (the entity's own fields, or the
    mapped base fields): the field's one type, whether it takes None, its allowed values (a
    ``Literal``), and which fields are decimals (NaN and infinity refused)."""

    __slots__ = ("decimals", "literals", "nullable", "seen", "types")

    def __init__(self) -> None:
        # a field with constraints (length, range, pattern) or of a type not in PLAIN_TYPES
        # has no type here: any value it gets goes through the model
        self.types: dict[str, type] = {}
        self.nullable: set[str] = set()
        self.literals: dict[str, frozenset[object]] = {}
        self.decimals: list[str] = []
        # layouts (names, and each value's type) whose names and types passed: a plan's
        # values come in few layouts, so a record's layout is usually one seen before
        self.seen: set[tuple[tuple[str, ...], tuple[type, ...]]] = set()

    def add(self, name: str, annotation: Any, constrained: bool) -> None:
        inner, nullable = optional_type(annotation)
        if nullable:
            self.nullable.add(name)
        if constrained:
            return
        if typing.get_origin(inner) is Literal:
            choices = typing.get_args(inner)
            if all(type(c) is str for c in choices):
                self.types[name] = str
                self.literals[name] = frozenset(choices)
        elif inner in PLAIN_TYPES:
            self.types[name] = inner
            if inner is Decimal:
                self.decimals.append(name)

    def keep(self, values: Mapping[str, object]) -> bool:
        """Whether the model keeps every one of ``values`` as it is (a name this group does
        not have is neither nullable nor typed here: it fails)."""
        layout = (tuple(values), tuple(map(type, values.values())))
        if layout not in self.seen:
            if not self._typed(values):
                return False
            if len(self.seen) < SEEN_MAX:
                self.seen.add(layout)
        for name, allowed in self.literals.items():
            value = values.get(name)
            if value is not None and value not in allowed:
                return False
        for name in self.decimals:
            value = values.get(name)
            if value is not None and not value.is_finite():  # type: ignore[attr-defined]
                return False
        return True

    def _typed(self, values: Mapping[str, object]) -> bool:
        types, nullable = self.types, self.nullable
        for name, value in values.items():
            if value is None:
                if name not in nullable:
                    return False
            elif types.get(name) is not type(value):
                return False
        return True


class RecordBuilder:
    """One entity's std records as plain dicts (see the module docstring)."""

    __slots__ = ("_base", "_own", "_template", "_trusted", "entity", "fallbacks", "model")

    def __init__(self, model: type[StdRecord]) -> None:
        self.model = model
        self.entity = model.entity
        self.fallbacks = 0
        self._trusted = _trusted(model)
        base_names = set(StdRecord.model_fields)
        self._own = _Rules()
        self._base = _Rules()
        self._template: dict[str, object] = {}
        for name, info in model.model_fields.items():
            constrained = bool(info.metadata)
            if name in MAPPED_BASE_FIELDS:
                self._base.add(name, info.annotation, constrained)
            elif name not in base_names:
                if info.is_required():
                    self._trusted = False  # a field the mapping may leave out: the model judges
                self._template[name] = info.get_default(call_default_factory=True)
                self._own.add(name, info.annotation, constrained)
        if self._base.types != _MAPPED_BASE_TYPES or self._base.nullable != {"business_time"}:
            self._trusted = False  # StdRecord changed: build() checks the old shape

    def build(self, base: dict[str, Any], values: Mapping[str, object]) -> dict[str, Any]:
        """The std record of ``base`` (every StdRecord field, in the model's order) and the
        entity's ``values``: a new dict, or the model's dump when the model has to judge.
        Raises :class:`pydantic.ValidationError` (or ``TypeError`` for a base field in
        ``values``) where the model does."""
        business_time = base["business_time"]
        if (
            self._trusted
            and type(base["cancelled"]) is bool
            and (business_time is None or type(business_time) is datetime)
            and self._own.keep(values)
        ):
            record = base.copy()
            record.update(self._template)
            record.update(values)
            return record
        self.fallbacks += 1
        return self.validated(base, values)

    def validated(self, base: dict[str, Any], values: Mapping[str, object]) -> dict[str, Any]:
        """The record through the pydantic model: validated (coerced, or refused) and dumped."""
        return self.model(**base, **values).model_dump()
