"""The mapper as it was before issue 17 (an interpreter of the profile, per record and field):
the oracle the compiled plan is compared with. A frozen copy of
src/streamhub/standardize/mapper.py at f3933e1; do not change it.

One source row -> the canonical values of its entity, as the vendor's profile says.

A field that cannot be mapped (a local code missing from the crosswalk, a date that does
not parse) becomes ``None`` with an :class:`Issue`; the record still flows, flagged. Only a
row that cannot be identified (its key missing) raises :class:`MappingError`. Personal
identifiers (the entity's CLEAR_FIELDS) are never echoed in an issue.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from streamhub.capture.envelope import avro_name
from streamhub.standardize.derive import DERIVATIONS
from streamhub.standardize.errors import DerivationError, FieldValueError, MappingError, ValueRule
from streamhub.standardize.issues import Issue
from streamhub.standardize.model import CLEAR_FIELDS, ENTITY_MODELS, field_meta
from streamhub.standardize.profile import (
    FieldSpec,
    Profile,
    TableMapping,
    key_text,
    literal_values,
    target_type,
)
from streamhub.standardize.pseudonym import WITHHELD_FIELDS

OBSERVED_MAX = 200  # an issue quotes the raw value, not a whole report text
QUOTED_MAX = 40  # a message quotes at most this much of a (non-personal) value
_TRUE = frozenset({"true", "t", "1", "y", "yes"})
_FALSE = frozenset({"false", "f", "0", "n", "no"})


@dataclass
class MappedRow:
    entity: str
    values: dict[str, object]
    business_time: datetime | None
    cancelled: bool
    issues: list[Issue] = field(default_factory=list)


def _quote(value: object) -> str:
    """A non-personal value as a message may quote it: capped, so a report text stays out."""
    text = key_text(value)
    return repr(text if len(text) <= QUOTED_MAX else text[: QUOTED_MAX - 1] + "…")


def _problem(rule: ValueRule, value: object, what: str) -> FieldValueError:
    return FieldValueError(rule, f"{_quote(value)} {what}", what)


def map_row(
    profile: Profile,
    table: str,
    row: Mapping[str, object],
    mapping: TableMapping | None = None,
) -> MappedRow:
    """Map one row (an envelope's ``after``, or ``before`` for a delete) of ``table``.

    Columns absent from the row (a delete's key-only ``before``, a column the source does
    not have) leave their fields ``None`` without an issue; present but wrong values give
    one issue each.
    """
    mapping = profile.table(table) if mapping is None else mapping  # or one of its `also`
    values: dict[str, object] = {}
    issues: list[Issue] = []
    for target, spec in mapping.fields.items():
        values[target] = _map_field(profile, mapping, table, target, spec, row, issues)
    key = values.get(mapping.key_field)
    if key is None:
        column = mapping.fields[mapping.key_field].described
        raise MappingError(
            f"{table}: key column {column!r} ({mapping.key_field}) is missing or unreadable "
            f"(columns present: {', '.join(sorted(row)) or 'none'}); the row cannot be "
            f"identified - check that the connector captures the key and profile "
            f"{profile.ref} names the right column"
        )
    return MappedRow(
        entity=mapping.entity,
        values=values,
        business_time=_business_time(profile, mapping, table, values, row, issues),
        cancelled=_cancelled(mapping, values, row),
        issues=issues,
    )


def map_further(
    profile: Profile, table: str, row: Mapping[str, object]
) -> list[tuple[TableMapping, MappedRow | None]]:
    """The further entities the row feeds (the table's ``also``), in profile order, each
    mapped by its own fields; ``None`` when the row holds none now (its key is empty: the
    embedded diagnosis was removed), which the standardizer turns into a deletion."""
    out: list[tuple[TableMapping, MappedRow | None]] = []
    for further in profile.table(table).also:
        try:
            out.append((further, map_row(profile, table, row, further)))
        except MappingError:
            out.append((further, None))
    return out


def _map_field(
    profile: Profile,
    mapping: TableMapping,
    table: str,
    target: str,
    spec: FieldSpec,
    row: Mapping[str, object],
    issues: list[Issue],
) -> object:
    raw = spec.const if spec.const is not None else _read_spec(row, spec)
    try:
        return _convert(profile, mapping.entity, target, spec, raw)
    except FieldValueError as problem:
        personal = (
            target in CLEAR_FIELDS.get(mapping.entity, ())
            or target in WITHHELD_FIELDS
            or spec.source in mapping.clear_columns
        )
        # a personal identifier's value (a birth date, an ID number) is never quoted: not in
        # observed, not in the message (both land in ops_quality), not even its length
        where = f"{table}.{spec.source or 'const'} -> {target}"
        issues.append(
            Issue(
                rule=problem.rule,
                dimension="conformance",
                severity="error",
                message=f"{where}: the value {problem.what} (personal identifier: not shown)"
                if personal
                else f"{where}: {problem}",
                field=target,
                observed=None if personal else key_text(raw)[:OBSERVED_MAX],
            )
        )
        return None


def _read_spec(row: Mapping[str, object], spec: FieldSpec) -> object:
    """The field's raw value: its column's, or its columns' joined (a composed id, which
    is missing when any part is: a partial id would merge different rows)."""
    if spec.parts is None:
        return _read(row, spec.source)
    parts = []
    for column in spec.parts:
        value = _read(row, column)
        text = None if value is None else key_text(value)
        if not text:
            return None
        parts.append(text)
    return spec.separator.join(parts)


def _read(row: Mapping[str, object], column: str | None) -> object:
    if column is None:
        return None
    return row.get(avro_name(column))


def _convert(profile: Profile, entity: str, target: str, spec: FieldSpec, raw: object) -> object:
    value = raw
    if spec.crosswalk is not None and value is not None:
        value = _crosswalk(profile, spec, value)
    if isinstance(value, str) and not value.strip():
        value = None  # blank text is a missing value, not a malformed one
    if spec.derive is not None and value is not None:
        try:
            value = DERIVATIONS[spec.derive](value)
        except DerivationError as exc:
            raise FieldValueError(exc.rule, str(exc), f"fails derivation {spec.derive!r}") from exc
    if value is None:
        return None
    return _coerce(entity, target, value, spec.format, profile.zone)


def _crosswalk(profile: Profile, spec: FieldSpec, value: object) -> object:
    assert spec.crosswalk is not None  # checked by the caller; narrows the type
    table = profile.crosswalks[spec.crosswalk]
    local = key_text(value)
    if local in table:
        return table[local]
    if spec.pass_unmapped or not local:
        return value  # blank: no code given, which completeness checks, not mapping
    raise _problem("code_mapped", local, f"is not in crosswalk {spec.crosswalk!r}")


def _coerce(entity: str, target: str, value: object, fmt: str | None, zone: tzinfo) -> object:
    kind = target_type(entity, target)
    allowed = literal_values(entity, target)
    if allowed is not None:
        text = key_text(value)
        if text not in allowed:
            raise _problem("value_format", text, f"is not one of {list(allowed)}")
        return text
    if kind is datetime:
        return _as_utc(_as_datetime(value, fmt), zone)
    if kind is date:
        return _as_date(value, fmt)
    if kind is bool:
        return _as_bool(value)
    if kind is int:
        return _as_int(value)
    if kind is float:
        return _as_float(value)
    if kind is Decimal:
        return _as_decimal(value, _scale(entity, target))
    return key_text(value)


@cache
def _scale(entity: str, target: str) -> int | None:
    scale = field_meta(ENTITY_MODELS[entity], target).get("scale")
    return scale if isinstance(scale, int) else None


def _as_datetime(value: object, fmt: str | None) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = key_text(value)  # an integer column holding 20240101083000 reads as text too
    try:
        return datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
    except ValueError as exc:
        expected = fmt or "ISO 8601"
        raise _problem("value_format", text, f"is not a time in {expected}") from exc


def _as_utc(value: datetime, zone: tzinfo) -> datetime:
    # naive source times are the institution's wall clock (the profile's timezone)
    local = value.replace(tzinfo=zone) if value.tzinfo is None else value
    return local.astimezone(UTC)


def _as_date(value: object, fmt: str | None) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = key_text(value)
    try:
        return datetime.strptime(text, fmt).date() if fmt else date.fromisoformat(text)
    except ValueError as exc:
        expected = fmt or "ISO 8601"
        raise _problem("value_format", text, f"is not a date in {expected}") from exc


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = key_text(value).lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise _problem("value_format", text, "is not a yes/no value")


def _as_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _as_decimal(value, None)
    if number != number.to_integral_value():
        raise _problem("value_format", value, "is not a whole number")
    return int(number)


def _as_float(value: object) -> float:
    if isinstance(value, bool):
        raise _problem("value_format", value, "is not a number")
    try:
        number = float(value) if isinstance(value, int | float) else float(key_text(value))
    except ValueError as exc:
        raise _problem("value_format", value, "is not a number") from exc
    if not math.isfinite(number):
        raise _problem("value_format", value, "is not a finite number")
    return number


def _as_decimal(value: object, scale: int | None) -> Decimal:
    if isinstance(value, bool):
        raise _problem("value_format", value, "is not a decimal number")
    try:
        number = Decimal(key_text(value))
    except InvalidOperation as exc:
        raise _problem("value_format", value, "is not a decimal number") from exc
    if not number.is_finite():
        raise _problem("value_format", value, "is not a finite decimal number")
    if scale is None:
        return number
    return number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


def _business_time(
    profile: Profile,
    mapping: TableMapping,
    table: str,
    values: dict[str, object],
    row: Mapping[str, object],
    issues: list[Issue],
) -> datetime | None:
    spec = mapping.business_time
    if spec is None:
        return None
    if isinstance(spec, str):
        value = values.get(spec)
        return value if isinstance(value, datetime) else None
    raw = _read(row, spec.source)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return _as_utc(_as_datetime(raw, spec.format), profile.zone)
    except FieldValueError as problem:
        issues.append(
            Issue(
                rule=problem.rule,
                dimension="conformance",
                severity="error",
                message=f"{table}.{spec.source} -> business_time: {problem}",
                field="business_time",
                observed=key_text(raw)[:OBSERVED_MAX],
            )
        )
        return None


def _cancelled(mapping: TableMapping, values: dict[str, object], row: Mapping[str, object]) -> bool:
    rule = mapping.cancelled
    if rule is None:
        return False
    value = values.get(rule.field) if rule.field is not None else _read(row, rule.source)
    return value is not None and key_text(value) in rule.values
