"""Avro serialization in the Confluent wire format, with schema compatibility checks."""

from streamhub.serde.avro_serde import AvroSerde, DecodedRecord, RegisteredWriter
from streamhub.serde.errors import (
    CorruptMessageError,
    IncompatibleSchemaError,
    InvalidSchemaError,
    RegistryUnavailableError,
    SerdeError,
    UnknownSchemaError,
    UnsupportedWireFormatError,
)
from streamhub.serde.wire import MessageRef

__all__ = [
    "AvroSerde",
    "CorruptMessageError",
    "DecodedRecord",
    "IncompatibleSchemaError",
    "InvalidSchemaError",
    "MessageRef",
    "RegisteredWriter",
    "RegistryUnavailableError",
    "SerdeError",
    "UnknownSchemaError",
    "UnsupportedWireFormatError",
]
