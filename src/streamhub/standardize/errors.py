"""Why a change envelope could not be standardized: each goes to dlq.standardize."""

from __future__ import annotations

from streamhub.errors import ConfigError, StreamhubError


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


class PseudonymKeyError(ConfigError):
    """A pseudonym key or the keyring is missing or malformed: fix the secret named."""
