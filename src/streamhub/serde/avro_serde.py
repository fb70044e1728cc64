"""Encode and decode Avro records in the Confluent wire format through a schema registry.

Writer schemas are parsed once and cached by id, so the registry is asked once per schema,
not per record, and fastavro gets the parsed schema (nothing is resolved again per
message); a registered writer carries its 5-byte Confluent header ready-made, and the union
branch of each of its record's nullable fields: a value of exactly that branch's Python type
is handed to fastavro with its branch named (fastavro's tuple notation), so fastavro does not
try the union's branches in turn (a fifth of a std record's encoding); any other value is
resolved by fastavro as before (same bytes, same errors). A record schema that compiles
(record_writer.py: flat records of primitives, their common logical types and arrays of
strings) is written by its compiled writer, fastavro writing only the records with a value
of another type. An instance reuses one output buffer: use one per thread.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from streamhub.serde import wire
from streamhub.serde.errors import (
    CorruptMessageError,
    IncompatibleSchemaError,
    InvalidSchemaError,
    RegistryUnavailableError,
    UnknownSchemaError,
)
from streamhub.serde.record_writer import RecordWriter, Unfit, compile_record
from streamhub.serde.wire import MessageRef

_SCHEMA_NOT_FOUND = 40403
# what the compiled writer raises where fastavro has to write (or refuse) the record
_FASTAVRO_JUDGES = (Unfit, KeyError, TypeError, ValueError, AttributeError, OverflowError)
# the Python type a union branch is named for: (Avro type, logical type) -> exact type
_BRANCH_TYPES: dict[tuple[str, str | None], type] = {
    ("string", None): str,
    ("long", None): int,
    ("int", None): int,
    ("double", None): float,
    ("boolean", None): bool,
    ("long", "timestamp-millis"): datetime,
    ("int", "date"): date,
    ("bytes", "decimal"): Decimal,
}


def union_branches(parsed: Any) -> dict[str, tuple[str, type]]:
    """field -> (branch name, exact Python type) of a record schema's ``["null", X]`` fields
    whose X is a primitive (or one of its logical types) listed in _BRANCH_TYPES."""
    fields = parsed.get("fields", []) if isinstance(parsed, dict) else []
    branches: dict[str, tuple[str, type]] = {}
    for spec in fields:
        kind = spec.get("type")
        if not (isinstance(kind, list) and len(kind) == 2 and kind[0] == "null"):
            continue
        branch = kind[1]
        name, logical = (
            (branch.get("type"), branch.get("logicalType"))
            if isinstance(branch, dict)
            else (branch, None)
        )
        python_type = _BRANCH_TYPES.get((name, logical)) if isinstance(name, str) else None
        if python_type is not None:
            branches[spec["name"]] = (str(name), python_type)
    return branches


@dataclass(frozen=True, slots=True)
class RegisteredWriter:
    """A schema registered under a subject: what an encoder needs."""

    subject: str
    schema_id: int
    parsed: Any
    # the Confluent wire header of schema_id, packed once
    header: bytes = field(init=False, repr=False, compare=False)
    # the record's nullable fields' union branches (see union_branches)
    branches: Mapping[str, tuple[str, type]] = field(init=False, repr=False, compare=False)
    # the record's body written without fastavro, when its schema compiles (record_writer.py)
    compiled: RecordWriter | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "header", wire.header(self.schema_id))
        object.__setattr__(self, "branches", union_branches(self.parsed))
        object.__setattr__(self, "compiled", compile_record(self.parsed))


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    schema_id: int
    value: Any


def schema_text(schema: Any) -> str:
    """Canonical JSON text of a schema document: the same schema always gives the same text."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse(schema: dict[str, Any] | str) -> Any:
    """Parse an Avro schema document with fastavro, as InvalidSchemaError when it is not Avro."""
    try:
        document = json.loads(schema) if isinstance(schema, str) else schema
        return fastavro.parse_schema(document)
    except (ValueError, TypeError, KeyError, fastavro.schema.SchemaParseException) as exc:
        raise InvalidSchemaError(f"not a valid Avro schema: {exc}") from exc


class AvroSerde:
    def __init__(self, registry: SchemaRegistryClient) -> None:
        self._registry = registry
        self._by_id: dict[int, Any] = {}
        self._registered: dict[tuple[str, str], RegisteredWriter] = {}
        self._buffer = io.BytesIO()

    def register(self, subject: str, schema: dict[str, Any]) -> RegisteredWriter:
        """Register (or find) ``schema`` under ``subject``; cached per (subject, schema)."""
        text = schema_text(schema)
        cached = self._registered.get((subject, text))
        if cached is not None:
            return cached
        parsed = parse(schema)
        try:
            schema_id = self._registry.register_schema(subject, Schema(text, "AVRO"))
        except SchemaRegistryError as exc:
            if exc.http_status_code == 409:
                raise IncompatibleSchemaError(
                    f"subject {subject}: the registry refused the new schema as incompatible "
                    f"({exc.error_message}); add defaults to new fields or use a new subject"
                ) from exc
            if exc.http_status_code == 422:
                raise InvalidSchemaError(f"subject {subject}: {exc.error_message}") from exc
            raise RegistryUnavailableError(f"subject {subject}: registry error {exc}") from exc
        except Exception as exc:  # httpx transport errors: the registry is not reachable
            raise RegistryUnavailableError(
                f"subject {subject}: schema registry unreachable ({exc}); "
                "check STREAMHUB_REGISTRY_URL and `streamhub stack status`"
            ) from exc
        writer = RegisteredWriter(subject, schema_id, parsed)
        self._by_id[schema_id] = parsed
        self._registered[(subject, text)] = writer
        return writer

    def encode(self, writer: RegisteredWriter, record: Any) -> bytes:
        compiled = writer.compiled
        if compiled is not None and type(record) is dict:
            try:
                return writer.header + compiled.write(record)
            except _FASTAVRO_JUDGES:
                pass  # a value of another type, or a bad one: fastavro's bytes or its error
        branches = writer.branches
        if branches and isinstance(record, dict):
            named = {}
            for name, value in record.items():
                branch = branches.get(name)
                # exactly the branch's type (a bool is not a long here): named; else resolved
                if branch is not None and type(value) is branch[1]:
                    named[name] = (branch[0], value)
                else:
                    named[name] = value
            record = named
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        buffer.write(writer.header)
        try:
            fastavro.schemaless_writer(buffer, writer.parsed, record)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise CorruptMessageError(
                f"subject {writer.subject}: record does not match schema id "
                f"{writer.schema_id}: {exc}"
            ) from exc
        return buffer.getvalue()

    def writer_schema(self, schema_id: int, where: MessageRef | None = None) -> Any:
        parsed = self._by_id.get(schema_id)
        if parsed is not None:
            return parsed
        ref = where or MessageRef()
        try:
            schema = self._registry.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404 or exc.error_code == _SCHEMA_NOT_FOUND:
                raise UnknownSchemaError(
                    f"{ref}: schema id {schema_id} is not in the schema registry; the message "
                    "was written against another registry or the schema was deleted"
                ) from exc
            raise RegistryUnavailableError(
                f"{ref}: registry error for id {schema_id}: {exc}"
            ) from exc
        except Exception as exc:
            raise RegistryUnavailableError(
                f"{ref}: schema registry unreachable while fetching id {schema_id} ({exc})"
            ) from exc
        parsed = parse(schema.schema_str or "")
        self._by_id[schema_id] = parsed
        return parsed

    def decode(
        self,
        data: bytes | memoryview,
        where: MessageRef | None = None,
        reader_schema: Any | None = None,
    ) -> DecodedRecord:
        """Decode one framed message; ``reader_schema`` resolves older/newer writer versions."""
        schema_id, body = wire.split(data, where)
        writer = self.writer_schema(schema_id, where)
        stream = io.BytesIO(body)
        try:
            value = fastavro.schemaless_reader(stream, writer, reader_schema)
        except (
            Exception
        ) as exc:  # fastavro raises EOFError, IndexError, UnicodeError... on bad bytes
            raise CorruptMessageError(
                f"{where or MessageRef()}: Avro body does not decode with schema id "
                f"{schema_id} ({type(exc).__name__}: {exc}); the message is truncated or corrupt"
            ) from exc
        if stream.tell() != len(body):
            raise CorruptMessageError(
                f"{where or MessageRef()}: {len(body) - stream.tell()} bytes left after decoding "
                f"with schema id {schema_id}; the message does not match its schema"
            )
        return DecodedRecord(schema_id, value)
