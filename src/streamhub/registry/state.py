"""The registry's state: subjects, versions, schema ids and compatibility levels.

Pure logic, no I/O: every change is expressed as a log record (key, value)
in the same shape Confluent's registry writes to its ``_schemas`` topic, and
state is rebuilt by applying records in order. The store writes a record to
Kafka first and applies it only once Kafka has acknowledged it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

from streamhub.registry.errors import (
    InvalidCompatibilityLevelError,
    InvalidVersionError,
    RegistryIncompatibleSchemaError,
    RegistryInvalidSchemaError,
    SchemaNotFoundError,
    SubjectConfigNotFoundError,
    SubjectNotFoundError,
    VersionNotFoundError,
)
from streamhub.serde.avro_serde import parse
from streamhub.serde.avro_serde import schema_text as canonical_json
from streamhub.serde.compatibility import LEVELS, Level, check_level
from streamhub.serde.errors import InvalidSchemaError

DEFAULT_LEVEL: Level = "BACKWARD"
Record = tuple[dict[str, Any], dict[str, Any] | None]


def canonical(schema_text: str) -> str:
    """A stable text form, so the same schema written differently gets the same id."""
    try:
        document = json.loads(schema_text)
    except ValueError as exc:
        raise RegistryInvalidSchemaError(f"schema is not JSON: {exc}") from exc
    try:
        parse(document)
    except InvalidSchemaError as exc:
        raise RegistryInvalidSchemaError(str(exc)) from exc
    return canonical_json(document)


@dataclass(slots=True)
class Version:
    version: int
    schema_id: int
    deleted: bool = False


@dataclass(slots=True)
class RegistryState:
    schemas: dict[int, str] = field(default_factory=dict)
    ids_by_text: dict[str, int] = field(default_factory=dict)
    subjects: dict[str, dict[int, Version]] = field(default_factory=dict)
    levels: dict[str | None, Level] = field(default_factory=dict)

    # ---- reads -------------------------------------------------------------------------

    def schema(self, schema_id: int) -> str:
        try:
            return self.schemas[schema_id]
        except KeyError:
            raise SchemaNotFoundError(f"schema id {schema_id} not found") from None

    def subject_names(self, include_deleted: bool = False) -> list[str]:
        return sorted(s for s, vs in self.subjects.items() if include_deleted or self._live(vs))

    def versions(self, subject: str, include_deleted: bool = False) -> list[Version]:
        found = self.subjects.get(subject, {})
        live = [v for v in found.values() if include_deleted or not v.deleted]
        if not live:
            raise SubjectNotFoundError(f"subject {subject!r} not found")
        return sorted(live, key=lambda v: v.version)

    def version(self, subject: str, version: str | int) -> Version:
        versions = self.versions(subject)
        if version in ("latest", "-1", -1):
            return versions[-1]
        try:
            number = int(version)
        except ValueError:
            raise InvalidVersionError(
                f"version {version!r} is not a positive integer or 'latest'"
            ) from None
        if number < 1:
            raise InvalidVersionError(f"version {version!r} is not a positive integer or 'latest'")
        for v in versions:
            if v.version == number:
                return v
        raise VersionNotFoundError(f"subject {subject!r} has no version {number}")

    def usages(self, schema_id: int) -> list[tuple[str, int]]:
        """(subject, version) pairs that use a schema id; unknown ids raise."""
        self.schema(schema_id)
        return [
            (s, v.version)
            for s in self.subject_names()
            for v in self.versions(s)
            if v.schema_id == schema_id
        ]

    def version_of(self, subject: str, schema_id: int) -> int:
        """The live version of ``subject`` that holds ``schema_id``."""
        for v in self.versions(subject):
            if v.schema_id == schema_id:
                return v.version
        raise SchemaNotFoundError(f"schema id {schema_id} is not under subject {subject!r}")

    def lookup(self, subject: str, schema_text: str) -> Version:
        text = canonical(schema_text)
        versions = self.versions(subject)
        for v in versions:
            if self.schemas[v.schema_id] == text:
                return v
        raise SchemaNotFoundError(f"schema not registered under subject {subject!r}")

    def level(self, subject: str | None, default_to_global: bool = True) -> Level:
        if subject is not None and subject in self.levels:
            return self.levels[subject]
        if subject is not None and not default_to_global:
            raise SubjectConfigNotFoundError(f"subject {subject!r} has no compatibility level set")
        return self.levels.get(None, DEFAULT_LEVEL)

    def compatibility_problems(self, subject: str, schema_text: str, against: str) -> list[str]:
        """Problems of ``schema_text`` against one version (or all, for transitive levels)."""
        text = canonical(schema_text)
        level = self.level(subject)
        try:
            live = self.versions(subject)
        except SubjectNotFoundError:
            return []
        if not level.endswith("_TRANSITIVE"):
            live = [self.version(subject, against)]
        previous = [json.loads(self.schemas[v.schema_id]) for v in live]
        return check_level(level, json.loads(text), previous)

    # ---- changes, as log records -------------------------------------------------------

    def plan_register(self, subject: str, schema_text: str) -> tuple[int, Record | None]:
        """The id for ``schema_text`` under ``subject`` and the record to log (None: exists)."""
        text = canonical(schema_text)
        existing = self.subjects.get(subject, {})
        for v in existing.values():
            if not v.deleted and self.schemas[v.schema_id] == text:
                return v.schema_id, None
        live = [v for v in existing.values() if not v.deleted]
        level = self.level(subject)
        previous = [json.loads(self.schemas[v.schema_id]) for v in sorted(live, key=_by_version)]
        problems = check_level(level, json.loads(text), previous)
        if problems:
            raise RegistryIncompatibleSchemaError(
                f"schema is incompatible with subject {subject!r} at level {level}: "
                + "; ".join(problems)
            )
        schema_id = self.ids_by_text.get(text) or max(self.schemas, default=0) + 1
        version = max(existing, default=0) + 1
        key = {"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1}
        value = {
            "subject": subject,
            "version": version,
            "id": schema_id,
            "schema": text,
            "deleted": False,
        }
        return schema_id, (key, value)

    def plan_delete(self, subject: str, version: str | int | None, permanent: bool) -> list[Record]:
        if version is None:
            targets = self.versions(subject, include_deleted=permanent)
        else:
            targets = [
                self._find_any(subject, version) if permanent else self.version(subject, version)
            ]
        records: list[Record] = []
        for v in targets:
            if permanent and not v.deleted:
                raise InvalidVersionError(
                    f"subject {subject!r} version {v.version} must be soft-deleted "
                    "before it can be deleted permanently"
                )
            key = {"keytype": "SCHEMA", "subject": subject, "version": v.version, "magic": 1}
            if permanent:
                records.append((key, None))
            else:
                value = {
                    "subject": subject,
                    "version": v.version,
                    "id": v.schema_id,
                    "schema": self.schemas[v.schema_id],
                    "deleted": True,
                }
                records.append((key, value))
        return records

    def plan_level(self, subject: str | None, level: str | None) -> Record:
        key = {"keytype": "CONFIG", "subject": subject, "magic": 0}
        if level is None:
            return key, None
        upper = level.upper()
        if upper not in LEVELS:
            raise InvalidCompatibilityLevelError(
                f"compatibility level {level!r} is not one of {', '.join(LEVELS)}"
            )
        return key, {"compatibilityLevel": upper}

    def apply(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        """Apply one log record; unknown key types (e.g. Confluent's NOOP) are ignored."""
        keytype = key.get("keytype")
        if keytype == "SCHEMA":
            subject, number = str(key["subject"]), int(key["version"])
            if value is None:
                versions = self.subjects.get(subject, {})
                versions.pop(number, None)
                if not versions:
                    self.subjects.pop(subject, None)
                return
            schema_id, text = int(value["id"]), str(value["schema"])
            self.schemas[schema_id] = text
            self.ids_by_text.setdefault(text, schema_id)
            self.subjects.setdefault(subject, {})[number] = Version(
                number, schema_id, bool(value.get("deleted", False))
            )
        elif keytype == "CONFIG":
            scope: str | None = key.get("subject")
            if value is None:
                self.levels.pop(scope, None)
            else:
                self.levels[scope] = cast(Level, value["compatibilityLevel"])

    def _find_any(self, subject: str, version: str | int) -> Version:
        for v in self.versions(subject, include_deleted=True):
            if str(v.version) == str(version):
                return v
        raise VersionNotFoundError(f"subject {subject!r} has no version {version}")

    @staticmethod
    def _live(versions: dict[int, Version]) -> bool:
        return any(not v.deleted for v in versions.values())


def _by_version(v: Version) -> int:
    return v.version
