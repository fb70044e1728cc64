"""The standardizer's errors. One that reaches the pipeline means the change envelope cannot
be standardized at all: it goes to dlq.standardize with the message as the reason. A field's
value that is wrong (:class:`FieldValueError`, :class:`DerivationError`) is not: the mapper
turns it into a quality issue on that field and the record still flows."""

from __future__ import annotations

from typing import Literal

from streamhub.errors import ConfigError, StreamhubError

#: the quality rules a wrong value breaks
ValueRule = Literal["code_mapped", "value_format"]


class StandardizeError(StreamhubError):
    """A record that cannot be standardized at all; the message is the dead letter's reason."""


class ProfileError(StandardizeError):
    """A mapping profile file is invalid: fix the file named in the message."""


class UnknownConnectorError(StandardizeError):
    """An envelope names a connector with no file in connectors/: add it or its profile."""


class UnmappedTableError(StandardizeError):
    """The profile has no mapping for the envelope's source table: extend the profile."""


class UnreadableEnvelopeError(StandardizeError):
    """The message is not a change envelope streamhub can decode."""


class EnvelopeShapeError(UnreadableEnvelopeError):
    """The message decodes but is not shaped like a change envelope (field missing or mistyped)."""


class UnexpectedRecordError(StandardizeError):
    """Standardizing one record failed in a way no check foresaw (a bug or an input no rule
    covers): the record is dead-lettered with where it failed, the stream goes on."""


class MappingError(StandardizeError):
    """A row's value cannot be converted as the profile says (and the field is its key)."""


class FieldValueError(StandardizeError):
    """A row's value cannot become its field (wrong format, code not in the crosswalk); the
    mapper records a ``rule`` issue on the field. ``what`` says what is wrong without the
    value, for personal fields, whose values are never quoted."""

    def __init__(self, rule: ValueRule, message: str, what: str) -> None:
        super().__init__(message)
        self.rule: ValueRule = rule
        self.what = what


class DerivationError(StandardizeError):
    """A profile's derivation (``derive:``) could not produce a value; ``rule`` names the
    quality rule it breaks."""

    rule: ValueRule = "value_format"


class UnknownCodeError(DerivationError):
    """The code is not in the catalogue the derivation looks it up in."""

    rule: ValueRule = "code_mapped"


class BadValueError(DerivationError):
    """The value does not have the shape the derivation reads."""


class BatchFailedError(StandardizeError):
    """A batch failed on every attempt; the worker exits so that it resumes from the last
    commit. Look at the cause in the log (often Kafka or the schema registry unreachable)."""


class PseudonymKeyError(ConfigError):
    """A pseudonym key or the keyring is missing or malformed: fix the secret named."""
