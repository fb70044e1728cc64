"""A mapping profile against a live source: what would silently go wrong before it does.

``streamhub profiles check --connector NAME`` reads the connector's tables from the
source's own catalogue (information_schema, through the capture agent's connection
helpers) and a small sample of distinct values of the crosswalked columns, and reports
per table:

- errors (exit 1): a table the connector captures but the source lacks or the profile does
  not map; a ``from:`` column the table does not have (its field would be null in every
  record); a required field of the entity with no source; a personal identifier the
  pseudonymizer cannot use (``id_number`` without ``id_type``: no person key); a
  crosswalk none of whose keys occurs in the sample while the column has values (every
  record would get a ``code_mapped`` issue).
- warnings: a real column neither mapped nor under ``ignore:`` (new columns are not read
  until mapped, which may be intended); crosswalk keys never seen in the sample and
  sampled values the crosswalk lacks; ``birth_date`` without a business time (no age band).

The comparison of names is the mapper's: a column is found under its Avro name, so
Chinese or mixed-case names compare as the records carry them. Sampled values are compared
as the mapper compares them (``key_text``); they are never printed for a column feeding a
personal identifier.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from streamhub.capture.envelope import avro_name
from streamhub.standardize.errors import UnmappedTableError
from streamhub.standardize.model import ENTITY_MODELS, REQUIRED_CLEAR_FIELDS, required_fields
from streamhub.standardize.profile import PROTECTED_FIELDS, Profile, TableMapping, key_text

Severity = Literal["error", "warning"]
SAMPLE_LIMIT = 200  # distinct values read per crosswalked column
SHOWN = 8  # values or columns quoted in one finding
# required model fields the pseudonymizer fills from a clear field the profile maps
_FILLED_FROM = {**PROTECTED_FIELDS}


@dataclass(frozen=True, slots=True)
class Finding:
    table: str
    severity: Severity
    kind: str  # missing_table unmapped_table unknown_column unmapped_column required_field
    #            pseudonymizer_input crosswalk_unseen crosswalk_missing
    message: str


# table -> its columns in order, None when the source has no such table
Columns = Mapping[str, Sequence[str] | None]
# (table, column) -> up to ``limit`` distinct non-null values
Sampler = Callable[[str, str, int], Sequence[object]]


def check_profile(
    profile: Profile,
    tables: Columns,
    sample: Sampler | None = None,
    sample_limit: int = SAMPLE_LIMIT,
) -> list[Finding]:
    """Every finding for the connector's ``tables`` (as the connector names them)."""
    findings: list[Finding] = []
    for table, columns in tables.items():
        if columns is None:
            findings.append(
                Finding(
                    table,
                    "error",
                    "missing_table",
                    "the source has no such table (or the user cannot see it)",
                )
            )
            continue
        try:
            mapping = profile.table(table)
        except UnmappedTableError:
            findings.append(
                Finding(
                    table,
                    "error",
                    "unmapped_table",
                    f"profile {profile.ref} has no mapping for it; add it under "
                    "'tables:' or remove it from the connector",
                )
            )
            continue
        findings.extend(_table_findings(profile, table, mapping, columns, sample, sample_limit))
    return findings


def _table_findings(
    profile: Profile,
    table: str,
    mapping: TableMapping,
    columns: Sequence[str],
    sample: Sampler | None,
    limit: int,
) -> list[Finding]:
    out: list[Finding] = []
    real = {avro_name(c): c for c in columns}

    def add(severity: Severity, kind: str, message: str) -> None:
        out.append(Finding(table, severity, kind, message))

    used = mapping.used_columns()
    for column in sorted(c for c in used if avro_name(c) not in real):
        readers = _readers(mapping, column)
        add(
            "error",
            "unknown_column",
            f"'from: {column}' ({', '.join(readers)}) is not a column of the table; the field "
            f"would be empty in every record. Columns: {_some(columns)}",
        )
    for column in sorted(set(mapping.ignore) - used):
        if avro_name(column) not in real:
            add("warning", "unknown_column", f"ignore lists {column!r}, which the table lacks")
    known = {avro_name(c) for c in (*used, *mapping.ignore)}
    unmapped = [c for c in columns if avro_name(c) not in known]
    if unmapped:
        add(
            "warning",
            "unmapped_column",
            f"columns neither mapped nor ignored: {_some(unmapped)}; map them or list them "
            "under 'ignore:'",
        )
    for entity_mapping in (mapping, *mapping.also):  # the row's entities, `also` included
        out.extend(Finding(table, "error", "required_field", m) for m in _unsourced(entity_mapping))
        out.extend(
            Finding(table, s, "pseudonymizer_input", m) for s, m in _pseudonymizer(entity_mapping)
        )
        if sample is not None:
            for severity, kind, message in _crosswalks(
                profile, table, entity_mapping, real, sample, limit
            ):
                add(severity, kind, message)
    return out


def _readers(mapping: TableMapping, column: str) -> list[str]:
    names = [n for n, s in mapping.fields.items() if column in s.columns]
    for further in mapping.also:
        names += [f"{further.entity}.{r}" for r in _readers(further, column)]
    time_spec = mapping.business_time
    if not isinstance(time_spec, str) and time_spec is not None and column in time_spec.columns:
        names.append("business_time")
    if mapping.cancelled is not None and mapping.cancelled.source == column:
        names.append("cancelled")
    return names


def _unsourced(mapping: TableMapping) -> list[str]:
    """Required fields of the entity that no field of the profile fills."""
    mapped = set(mapping.fields)
    out = []
    # the clear inputs the completeness check demands (a patient's name and ID number) are
    # required too, though they never leave the standardizer as fields of their own
    required = (
        *required_fields(ENTITY_MODELS[mapping.entity]),
        *REQUIRED_CLEAR_FIELDS.get(mapping.entity, ()),
    )
    for name in required:
        source = _FILLED_FROM.get(name)
        if name in mapped or (source is not None and source in mapped):
            continue
        hint = f" (map {source!r}; the pseudonymizer fills {name})" if source else ""
        out.append(f"required field {name!r} has no source: every record is flagged{hint}")
    return out


def _pseudonymizer(mapping: TableMapping) -> list[tuple[Severity, str]]:
    """What the pseudonymizer needs beside a personal identifier (standardize/pseudonym.py)."""
    if mapping.entity != "patient":
        return []
    mapped = set(mapping.fields)
    out: list[tuple[Severity, str]] = []
    if "id_number" in mapped and "id_type" not in mapped:
        out.append(
            (
                "error",
                "id_number is mapped without id_type: person_key stays empty "
                "(a number is ambiguous without its type); map id_type, or "
                '{const: "01"} when every number is a resident ID',
            )
        )
    if "id_type" in mapped and "id_number" not in mapped:
        out.append(("warning", "id_type is mapped without id_number: no person key"))
    if "birth_date" in mapped and mapping.business_time is None:
        out.append(
            (
                "warning",
                "birth_date without a business_time: the age band stays empty "
                "(it is the age at the record's business time)",
            )
        )
    return out


def _crosswalks(
    profile: Profile,
    table: str,
    mapping: TableMapping,
    real: Mapping[str, str],
    sample: Sampler,
    limit: int,
) -> list[tuple[Severity, str, str]]:
    out: list[tuple[Severity, str, str]] = []
    seen_pairs: set[tuple[str, str]] = set()
    for target, spec in mapping.fields.items():
        if spec.crosswalk is None or spec.source is None:
            continue
        column = real.get(avro_name(spec.source))
        if column is None or (column, spec.crosswalk) in seen_pairs:
            continue  # unknown columns are reported above
        seen_pairs.add((column, spec.crosswalk))
        values = {key_text(v) for v in sample(table, column, limit)} - {""}
        if not values:
            continue  # an empty table says nothing about its codes
        keys = set(profile.crosswalks[spec.crosswalk])
        personal = spec.source in mapping.clear_columns
        where = f"{column} -> {target} (crosswalk {spec.crosswalk!r})"
        if not keys & values:
            shown = "" if personal else f"; sampled values: {_some(sorted(values))}"
            out.append(
                (
                    "error",
                    "crosswalk_unseen",
                    f"{where}: none of the crosswalk's keys occurs in {len(values)} sampled "
                    f"value(s): every record would get a code_mapped issue{shown}",
                )
            )
            continue
        unseen = sorted(keys - values)
        if unseen:
            out.append(
                (
                    "warning",
                    "crosswalk_unseen",
                    f"{where}: keys never seen in a sample of {len(values)} distinct "
                    f"value(s): {_some(unseen)}",
                )
            )
        missing = sorted(values - keys)
        if missing and not spec.pass_unmapped:
            shown = f"{len(missing)} value(s)" if personal else _some(missing)
            out.append(
                (
                    "warning",
                    "crosswalk_missing",
                    f"{where}: sampled values the crosswalk lacks: {shown}",
                )
            )
    return out


def _some(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" … ({len(items)} in all)" if len(items) > SHOWN else "")
