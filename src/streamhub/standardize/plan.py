"""A profile's table mapping compiled into a plan: the per-record path of the mapper.

:func:`plan_for` compiles a :class:`TableMapping` once per profile (cached on the profile):
each target field becomes a :class:`~streamhub.standardize.plan_fields.FieldStep` with its
Avro column, crosswalk, derivation and type conversion bound, and the key, business-time
and cancellation rules are resolved. :meth:`TablePlan.map` then reads a row with no type
introspection, no regex compilation, no pydantic work and no repeated lookups, and gives
the same :class:`MappedRow` (values, issues, errors) as the profile says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from streamhub.capture.envelope import avro_name
from streamhub.standardize.errors import FieldValueError, MappingError
from streamhub.standardize.issues import Issue
from streamhub.standardize.plan_fields import FieldStep
from streamhub.standardize.plan_values import OBSERVED_MAX, utc_time
from streamhub.standardize.profile import FieldSpec, Profile, TableMapping, key_text

Row = Mapping[str, object]


@dataclass
class MappedRow:
    entity: str
    values: dict[str, object]
    business_time: datetime | None
    cancelled: bool
    issues: list[Issue] = field(default_factory=list)


class TablePlan:
    """One table mapping of one profile, ready to map rows."""

    def __init__(self, profile: Profile, mapping: TableMapping) -> None:
        self.mapping = mapping
        self.entity = mapping.entity
        self.profile_ref = profile.ref
        steps = [FieldStep(profile, mapping, t, s) for t, s in mapping.fields.items()]
        # (target, Avro column or None, conversion, step): the loop's view of each step
        self.steps = [(s.target, s.column, s.convert, s) for s in steps]
        self.key_field = mapping.key_field
        self.key_described = mapping.fields[self.key_field].described
        self.time_field: str | None = None
        self.time_column: str | None = None
        self.time_source: str | None = None
        self.time_convert: Callable[[object], datetime | None] | None = None
        spec = mapping.business_time
        if isinstance(spec, str):
            self.time_field = spec
        elif isinstance(spec, FieldSpec):
            self.time_source = spec.source
            self.time_column = None if spec.source is None else avro_name(spec.source)
            self.time_convert = utc_time(spec.format, profile.zone)
        rule = mapping.cancelled
        self.cancel_field = None if rule is None else rule.field
        self.cancel_column = None if rule is None or rule.source is None else avro_name(rule.source)
        self.cancel_values = frozenset() if rule is None else rule.values

    def map(self, table: str, row: Row) -> MappedRow:
        """Map one row of ``table`` (the name the envelope gives, quoted in messages)."""
        values: dict[str, object] = {}
        issues: list[Issue] = []
        get = row.get
        for target, column, convert, step in self.steps:
            raw = get(column) if column is not None else step.read(row)
            if raw is None:
                values[target] = None
                continue
            try:
                values[target] = convert(raw)
            except FieldValueError as found:
                values[target] = None
                issues.append(step.issue(table, raw, found))
        if values.get(self.key_field) is None:
            raise MappingError(
                f"{table}: key column {self.key_described!r} ({self.key_field}) is missing or "
                f"unreadable (columns present: {', '.join(sorted(row)) or 'none'}); the row "
                f"cannot be identified - check that the connector captures the key and profile "
                f"{self.profile_ref} names the right column"
            )
        if self.time_field is not None:
            moment = values.get(self.time_field)
            business_time = moment if isinstance(moment, datetime) else None
        else:
            business_time = self._business_time(table, row, issues)
        if self.cancel_field is not None:
            flag = values.get(self.cancel_field)
        elif self.cancel_column is not None:
            flag = get(self.cancel_column)
        else:
            flag = None
        cancelled = flag is not None and key_text(flag) in self.cancel_values
        return MappedRow(self.entity, values, business_time, cancelled, issues)

    def _business_time(self, table: str, row: Row, issues: list[Issue]) -> datetime | None:
        """The business time of a table whose profile reads it from a column of its own."""
        if self.time_convert is None:
            return None
        raw = None if self.time_column is None else row.get(self.time_column)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        try:
            return self.time_convert(raw)
        except FieldValueError as found:
            issues.append(
                Issue(
                    rule=found.rule,
                    dimension="conformance",
                    severity="error",
                    message=f"{table}.{self.time_source} -> business_time: {found}",
                    field="business_time",
                    observed=key_text(raw)[:OBSERVED_MAX],
                )
            )
            return None


def plan_for(profile: Profile, mapping: TableMapping) -> TablePlan:
    """The compiled plan of ``mapping`` (one of ``profile``'s), compiled on first use."""
    plans = profile.plans
    plan = plans.get(id(mapping))
    if plan is None or plan.mapping is not mapping:
        plan = plans[id(mapping)] = TablePlan(profile, mapping)
    return plan
