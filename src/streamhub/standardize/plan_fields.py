"""One target field of a compiled plan: where its value is read and the one function that
turns it into the standard value.

A field spec's steps (crosswalk, blank text as missing, derivation, type conversion) are
composed once into a :data:`Convert`; a crosswalk's codes are converted in advance, so a
known local code costs one dict lookup, and a ``const`` is converted once. The per-record
path runs exactly what the profile's interpreter ran, in the same order, with the same
:class:`FieldValueError` for a value that cannot be converted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streamhub.capture.envelope import avro_name
from streamhub.standardize.derive import DERIVATIONS
from streamhub.standardize.errors import DerivationError, FieldValueError
from streamhub.standardize.issues import Issue
from streamhub.standardize.model import CLEAR_FIELDS
from streamhub.standardize.plan_values import (
    OBSERVED_MAX,
    Coerce,
    coercer,
    present_coercer,
    problem,
)
from streamhub.standardize.profile import FieldSpec, Profile, TableMapping, key_text
from streamhub.standardize.pseudonym import WITHHELD_FIELDS

Convert = Callable[[object], object]  # a present raw value -> the standard value (or None)
Row = Mapping[str, object]
_MISSING = object()


class FieldStep:
    """One target field: its Avro column (``column``, for a plain ``from``), or how to read
    several columns or a const (:meth:`read`), its conversion and how its issues read."""

    __slots__ = ("column", "const", "convert", "label", "parts", "personal", "separator", "target")

    def __init__(self, profile: Profile, mapping: TableMapping, target: str, spec: FieldSpec):
        self.target = target
        self.column = avro_name(spec.source) if spec.source is not None else None
        self.parts = tuple(avro_name(c) for c in spec.parts) if spec.parts is not None else None
        self.separator = spec.separator
        self.const = spec.const
        self.label = spec.source or "const"  # how messages name the source (as they always did)
        # a personal identifier's value (a birth date, an ID number) is never quoted: not in
        # observed, not in the message (both land in ops_quality), not even its length
        self.personal = (
            target in CLEAR_FIELDS.get(mapping.entity, ())
            or target in WITHHELD_FIELDS
            or spec.source in mapping.clear_columns
        )
        convert = field_converter(profile, mapping.entity, target, spec)
        self.convert = convert if spec.const is None else _constant(convert, spec.const)

    def read(self, row: Row) -> object:
        """The raw value of a field that is not one plain column: a const, or its columns
        joined (a composed id, missing when any part is: a partial id would merge rows)."""
        if self.parts is None:
            return self.const
        parts = []
        for column in self.parts:
            value = row.get(column)
            text = None if value is None else key_text(value)
            if not text:
                return None
            parts.append(text)
        return self.separator.join(parts)

    def issue(self, table: str, raw: object, found: FieldValueError) -> Issue:
        where = f"{table}.{self.label} -> {self.target}"
        if self.personal:
            return Issue(
                rule=found.rule,
                dimension="conformance",
                severity="error",
                message=f"{where}: the value {found.what} (personal identifier: not shown)",
                field=self.target,
                observed=None,
            )
        return Issue(
            rule=found.rule,
            dimension="conformance",
            severity="error",
            message=f"{where}: {found}",
            field=self.target,
            observed=key_text(raw)[:OBSERVED_MAX],
        )


def field_converter(profile: Profile, entity: str, target: str, spec: FieldSpec) -> Convert:
    """The field's steps in the profile's order: crosswalk, blank text is missing, derive,
    convert to the field's type."""
    if spec.derive is None:
        present = present_coercer(entity, target, spec.format, profile.zone)
    else:
        present = _derived(spec.derive, coercer(entity, target, spec.format, profile.zone))
    if spec.crosswalk is None:
        return present
    return _crosswalked(profile.crosswalks[spec.crosswalk], spec, present)


def _derived(name: str, coerce: Coerce) -> Convert:
    derive = DERIVATIONS[name]
    what = f"fails derivation {name!r}"

    def derived(value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        try:
            value = derive(value)
        except DerivationError as exc:
            raise FieldValueError(exc.rule, str(exc), what) from exc
        return None if value is None else coerce(value)

    return derived


def _crosswalked(table: dict[str, str], spec: FieldSpec, present: Convert) -> Convert:
    """Local code -> standard value; the standard values of the crosswalk's codes are
    converted now. A code missing from the crosswalk is a ``code_mapped`` problem unless
    the spec passes it (``pass_unmapped``) or it is blank (completeness judges that)."""
    converted: dict[str, object] = {}
    for local, standard in table.items():
        try:
            converted[local] = present(standard)
        except Exception:  # noqa: S112 - the per-record path meets (and reports) it as before
            continue
    what = f"is not in crosswalk {spec.crosswalk!r}"
    passes = spec.pass_unmapped

    def crosswalk(value: object) -> object:
        local = value.strip() if type(value) is str else key_text(value)
        found = converted.get(local, _MISSING)
        if found is not _MISSING:
            return found
        if local in table:
            return present(table[local])
        if passes or not local:
            return present(value)
        raise problem("code_mapped", local, what)

    return crosswalk


def _constant(convert: Convert, const: object) -> Convert:
    """A const converted once; one that does not convert is reported on every record."""
    try:
        value = convert(const)
    except Exception:  # the per-record path meets (and reports) it as before
        return convert
    return lambda _raw: value
