"""Errors of Avro encoding and decoding.

Decoding errors carry the message's topic/partition/offset when the caller knows
them, so a dead letter or a log line points at the exact record.
"""

from streamhub.errors import StreamhubError


class SerdeError(StreamhubError):
    """A record could not be encoded or decoded."""


class CorruptMessageError(SerdeError):
    """The bytes are not a valid Confluent-framed Avro record (truncated, garbage, wrong schema)."""


class UnsupportedWireFormatError(SerdeError):
    """The magic byte is not 0 (e.g. newer Confluent serdes' magic 1); we only read format 0."""


class UnknownSchemaError(SerdeError):
    """The schema id in the message is not known to the schema registry."""


class RegistryUnavailableError(SerdeError):
    """The schema registry did not answer; retry once it is reachable."""


class InvalidSchemaError(SerdeError):
    """A schema document is not valid Avro."""


class IncompatibleSchemaError(SerdeError):
    """A new schema version breaks the subject's compatibility level."""
