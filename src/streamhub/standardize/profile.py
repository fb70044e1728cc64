"""Mapping profiles: one YAML file per vendor says how its tables become canonical entities.

Onboarding another hospital of a known vendor is a connector file naming the profile; a new
vendor is a new profile file. Everything a profile references (entity, target fields,
crosswalks, derivations, time zone) is checked when it is loaded, so a wrong profile stops
the standardizer at start instead of failing record by record. connectors/profiles/README.md
describes the format for operators.
"""

from __future__ import annotations

import types
import typing
from datetime import date
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from streamhub.log import get_logger
from streamhub.standardize.derive import DERIVATIONS
from streamhub.standardize.errors import ProfileError, UnmappedTableError
from streamhub.standardize.model import CLEAR_FIELDS, ENTITY_MODELS, TOKEN_FIELDS, StdRecord

if TYPE_CHECKING:
    from streamhub.standardize.plan import TablePlan

log = get_logger(__name__)

# Fields only the pseudonymizer fills, from the clear field named here: a profile mapping a
# source column straight into one would put a personal identifier on std.* in clear.
PROTECTED_FIELDS: dict[str, str] = {
    "person_key": "id_number",
    "id_number_masked": "id_number",
    "name_masked": "name",
    "phone_masked": "phone",
    "birth_year": "birth_date",
    "age_band": "birth_date",
    "doctor_key": "doctor",
    "verifier_key": "verifier",
    "pseudonym_key_id": "id_number",
}
CLEAR_FIELD_TYPES: dict[str, type] = {"birth_date": date}  # every other clear field is text
BASE_FIELDS = frozenset(StdRecord.model_fields)
COMPOSITE_JOIN = "|"  # between the parts of a value composed of several columns


def key_text(value: object) -> str:
    """How a raw or mapped value is compared with profile text: YAML ``true`` and a boolean
    column both read ``true``, the integer 1 and the text "1" both read ``1``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


@cache  # per record and field on the hot path; the models never change at run time
def target_type(entity: str, name: str) -> Any:
    """The Python type a target field holds, without its ``None`` option."""
    if name in CLEAR_FIELDS.get(entity, ()):
        return CLEAR_FIELD_TYPES.get(name, str)
    annotation = ENTITY_MODELS[entity].model_fields[name].annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation


@cache
def literal_values(entity: str, name: str) -> tuple[str, ...] | None:
    kind = target_type(entity, name)
    if typing.get_origin(kind) is Literal:
        return tuple(str(v) for v in typing.get_args(kind))
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldSpec(_Strict):
    """Where one target field's value comes from and how it is turned into the standard one.

    The steps run in order: read ``from`` (or take ``const``), look it up in ``crosswalk``,
    apply ``derive``, then convert to the field's type (``format`` parses text times).
    """

    source: str | None = Field(None, alias="from", description="source column")
    parts: tuple[str, ...] | None = Field(
        None, description="several source columns composing one value (`from: [A, B]`)"
    )
    join: str | None = Field(None, description="separator between the parts (default '|')")
    const: str | int | float | bool | None = Field(None, description="a fixed value instead")
    crosswalk: str | None = Field(None, description="local -> standard value table")
    pass_unmapped: bool = Field(
        False, description="a value missing from the crosswalk passes as is (e.g. units)"
    )
    format: str | None = Field(None, description="strptime format of text dates and times")
    derive: str | None = Field(None, description="named derivation (streamhub.standardize.derive)")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"from": data}  # `patient_id: BRID`
        if isinstance(data, list):
            return {"parts": data}  # `encounter_id: [MZHM, GHSJ]`
        if isinstance(data, dict) and isinstance(data.get("from"), list):
            # `{from: [MZHM, GHSJ], join: "|"}`: one value composed of several columns
            return {**{k: v for k, v in data.items() if k != "from"}, "parts": data["from"]}
        return data

    @property
    def columns(self) -> tuple[str, ...]:
        """Every source column the field reads (none for a const)."""
        if self.parts is not None:
            return self.parts
        return () if self.source is None else (self.source,)

    @property
    def separator(self) -> str:
        return COMPOSITE_JOIN if self.join is None else self.join

    @property
    def described(self) -> str:
        """The field's source for messages: ``MZHM``, ``MZHM+GHSJ`` or ``const``."""
        return "+".join(self.columns) or "const"

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = sum(x is not None for x in (self.source, self.parts, self.const))
        if given != 1:
            raise ValueError("give exactly one of 'from' (a source column) or 'const'")
        if self.parts is not None:
            if len(self.parts) < 2 or len(set(self.parts)) != len(self.parts):
                raise ValueError(
                    "'from' as a list composes one value of two or more different columns; "
                    "for one column write `from: COLUMN`"
                )
            if self.crosswalk or self.derive or self.format:
                raise ValueError(
                    "a value composed of several columns takes 'join' only "
                    "(no crosswalk, derive or format)"
                )
        elif self.join is not None:
            raise ValueError("'join' needs 'from' as a list of columns")
        if self.derive is not None and self.derive not in DERIVATIONS:
            known = ", ".join(sorted(DERIVATIONS))
            raise ValueError(f"unknown derivation {self.derive!r}; known: {known}")
        return self


class CancelRule(_Strict):
    """When a row counts as cancelled (作废/退号): a raw source column (``from``) or a mapped
    target field (``field``) equals a value (``equals``) or one of several (``in``)."""

    source: str | None = Field(None, alias="from")
    field: str | None = None
    equals: str | int | bool | None = None
    one_of: list[str | int | bool] | None = Field(None, alias="in")

    @model_validator(mode="after")
    def _well_formed(self) -> CancelRule:
        if (self.source is None) == (self.field is None):
            raise ValueError("cancelled: give exactly one of 'from' or 'field'")
        if (self.equals is None) == (self.one_of is None):
            raise ValueError("cancelled: give exactly one of 'equals' or 'in'")
        return self

    @cached_property
    def values(self) -> frozenset[str]:
        chosen = self.one_of if self.one_of is not None else [self.equals]
        return frozenset(key_text(v) for v in chosen if v is not None)


class TableMapping(_Strict):
    """One source table -> one entity, and through ``also`` further entities of the same row
    (a registration row carrying its primary diagnosis)."""

    entity: str
    key: str | None = Field(
        None, description="target field identifying the row; default the entity's id field"
    )
    business_time: str | FieldSpec | None = Field(
        None, description="a target field name, or a source spec when no target field fits"
    )
    cancelled: CancelRule | None = None
    fields: dict[str, FieldSpec]
    ignore: list[str] = Field(
        default_factory=list, description="source columns knowingly not mapped"
    )
    also: list[TableMapping] = Field(
        default_factory=list,
        description="further entities the same row feeds, each with its own fields and key",
    )

    @cached_property  # asked for every row
    def key_field(self) -> str:
        if self.key is not None:
            return self.key
        own = [n for n in ENTITY_MODELS[self.entity].model_fields if n not in BASE_FIELDS]
        return own[0]

    def used_columns(self) -> set[str]:
        """Source columns this mapping reads (fields, business time, cancel rule), with those
        of the further entities under ``also``."""
        specs = list(self.fields.values())
        if isinstance(self.business_time, FieldSpec):
            specs.append(self.business_time)
        used = {column for s in specs for column in s.columns}
        if self.cancelled is not None and self.cancelled.source is not None:
            used.add(self.cancelled.source)
        for further in self.also:
            used |= further.used_columns()
        return used

    @cached_property
    def clear_columns(self) -> frozenset[str]:
        """Source columns feeding a personal identifier: never echoed in an issue."""
        clear = CLEAR_FIELDS.get(self.entity, ())
        return frozenset(
            column for n, s in self.fields.items() if n in clear for column in s.columns
        )


class Profile(_Strict):
    name: str
    version: int = Field(ge=1)
    vendor: str
    description: str = ""
    timezone: str = "Asia/Shanghai"
    crosswalks: dict[str, dict[str, str]] = Field(default_factory=dict)
    tables: dict[str, TableMapping]

    @field_validator("crosswalks", mode="before")
    @classmethod
    def _crosswalk_text(cls, value: Any) -> Any:
        # YAML reads `1: "1"` or `true: "Y"` as numbers and booleans; crosswalks compare text
        if not isinstance(value, dict):
            return value
        return {
            name: (
                {key_text(k): key_text(v) for k, v in table.items()}
                if isinstance(table, dict)
                else table
            )
            for name, table in value.items()
        }

    @model_validator(mode="after")
    def _references_resolve(self) -> Profile:
        problems: list[str] = []
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"unknown timezone {self.timezone!r}")
        for table, mapping in self.tables.items():
            problems.extend(f"tables.{table}: {p}" for p in _table_problems(self, mapping))
            problems.extend(f"tables.{table}: {p}" for p in _also_problems(self, mapping))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def plans(self) -> dict[int, TablePlan]:
        """Compiled table mappings by id of the mapping, filled on first use by
        :func:`streamhub.standardize.plan.plan_for` (not a field: equality ignores it)."""
        return {}

    def table(self, name: str) -> TableMapping:
        """The mapping of a source table (given with or without its schema)."""
        mapping = self.tables.get(name) or self.tables.get(name.rsplit(".", 1)[-1])
        if mapping is None:
            raise UnmappedTableError(
                f"profile {self.ref} has no mapping for source table {name!r} "
                f"(it maps {', '.join(sorted(self.tables))}); add the table under 'tables:' "
                f"in the profile file, or remove it from the connector's tables"
            )
        return mapping


def _table_problems(profile: Profile, mapping: TableMapping) -> list[str]:
    entity = mapping.entity
    if entity not in ENTITY_MODELS:
        return [f"unknown entity {entity!r}; known: {', '.join(sorted(ENTITY_MODELS))}"]
    model_fields = set(ENTITY_MODELS[entity].model_fields) - BASE_FIELDS
    targets = model_fields | set(CLEAR_FIELDS.get(entity, ()))
    problems: list[str] = []
    specs = dict(mapping.fields)
    if isinstance(mapping.business_time, FieldSpec):
        specs["business_time"] = mapping.business_time
    for target in mapping.fields:
        if target in PROTECTED_FIELDS:
            problems.append(
                f"{target} is filled by the pseudonymizer; map {PROTECTED_FIELDS[target]!r}"
            )
        elif target not in targets:
            problems.append(f"{entity} has no field {target!r}")
    for target, spec in specs.items():
        if spec.crosswalk is not None and spec.crosswalk not in profile.crosswalks:
            problems.append(f"{target}: unknown crosswalk {spec.crosswalk!r}")
        elif target in targets and (allowed := literal_values(entity, target)):
            problems.extend(_literal_problems(profile, target, spec, allowed))
    for target, spec in mapping.fields.items():
        if spec.parts is not None and target in targets and target_type(entity, target) is not str:
            problems.append(
                f"{target}: a value composed of several columns is text; {target} is not"
            )
    time_spec = mapping.business_time
    if isinstance(time_spec, FieldSpec) and (
        time_spec.source is None or time_spec.crosswalk or time_spec.derive
    ):
        problems.append("business_time as a spec takes 'from' and 'format' only")
    if mapping.key_field not in mapping.fields:
        problems.append(f"key field {mapping.key_field!r} is not mapped")
    if isinstance(mapping.business_time, str) and mapping.business_time not in mapping.fields:
        problems.append(f"business_time names {mapping.business_time!r}, which is not mapped")
    rule = mapping.cancelled
    if rule is not None and rule.field is not None and rule.field not in mapping.fields:
        problems.append(f"cancelled names field {rule.field!r}, which is not mapped")
    overlap = mapping.used_columns() & set(mapping.ignore)
    if overlap:
        problems.append(f"columns both used and ignored: {sorted(overlap)}")
    return problems


def _also_problems(profile: Profile, mapping: TableMapping) -> list[str]:
    """Further entities of a row: one level, each entity once, ignore on the table only."""
    problems: list[str] = []
    seen = {mapping.entity}
    for n, further in enumerate(mapping.also):
        where = f"also[{n}] ({further.entity})"
        if further.entity in seen:
            problems.append(
                f"{where}: the row already feeds {further.entity}; one record per entity and row"
            )
        seen.add(further.entity)
        if further.also:
            problems.append(f"{where}: 'also' nests one level only")
        if further.ignore:
            problems.append(f"{where}: put 'ignore' on the table's first mapping")
        problems.extend(f"{where}: {p}" for p in _table_problems(profile, further))
    return problems


def _literal_problems(
    profile: Profile, target: str, spec: FieldSpec, allowed: tuple[str, ...]
) -> list[str]:
    """Typos in a const or a crosswalk feeding a closed set would reject every record."""
    if spec.derive is not None:
        return []
    produced = (
        {key_text(spec.const)}
        if spec.const is not None
        else set(profile.crosswalks[spec.crosswalk].values())
        if spec.crosswalk is not None
        else set()
    )
    wrong = sorted(produced - set(allowed))
    return [f"{target}: {wrong} not among {list(allowed)}"] if wrong else []


def load_profile(path: Path) -> Profile:
    """Read and validate one profile file; :class:`ProfileError` names the file and problem."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"profile file {path}: cannot read it: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ProfileError(f"profile file {path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ProfileError(f"profile file {path} must hold a mapping (name, version, tables …)")
    try:
        profile = Profile.model_validate(document)
    except ValidationError as exc:
        raise ProfileError(f"profile file {path} is invalid: {_describe(exc)}") from exc
    _warn_personal_keys(profile, path)
    return profile


def personal_key_fields(mapping: TableMapping) -> list[str]:
    """Key and id fields of a table read from a column that also feeds a personal identifier
    (a vendor keying patients on the ID number): their values are personal identifiers."""
    clear = CLEAR_FIELDS.get(mapping.entity, ())
    personal = mapping.clear_columns
    ids = {mapping.key_field, *TOKEN_FIELDS.get(mapping.entity, {})}
    return sorted(
        name
        for name in ids
        if name in mapping.fields
        and (name in clear or bool(set(mapping.fields[name].columns) & personal))
    )


def _warn_personal_keys(profile: Profile, path: Path) -> None:
    """Warn, not refuse: these values leave the standardizer only as keyed tokens (record_id,
    source_key and internal ids), so std.* and ClickHouse stay safe; but the raw topics,
    dead letters and `reconcile diff` show the source key in clear to operators."""
    for table, mapping in profile.tables.items():
        fields = personal_key_fields(mapping)
        if fields:
            log.warning(
                "profile keys rows on a personal identifier",
                extra={
                    "profile": profile.ref,
                    "file": str(path),
                    "table": table,
                    "fields": fields,
                    "action": "keyed as tokens; raw topics and "
                    "reconcile diff show the clear key to operators only",
                },
            )


def load_profiles(directory: Path) -> dict[str, Profile]:
    """Every ``*.yaml``/``*.yml`` profile in ``directory``, by profile name."""
    if not directory.is_dir():
        raise ProfileError(f"profile directory {directory} does not exist")
    profiles: dict[str, Profile] = {}
    origins: dict[str, Path] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        profile = load_profile(path)
        if profile.name in profiles:
            raise ProfileError(
                f"profile file {path} repeats the name {profile.name!r} of "
                f"{origins[profile.name]}; profile names must be unique"
            )
        profiles[profile.name], origins[profile.name] = profile, path
    return profiles


def _describe(exc: ValidationError) -> str:
    """One line per problem, located by its path in the file (tables.patients.fields …)."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)
