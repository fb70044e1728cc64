"""Errors of the code systems and their packaged catalogues."""

from enum import StrEnum

from streamhub.errors import StreamhubError


class CodeError(StreamhubError):
    """Base of every error in :mod:`streamhub.codes`."""


class Reason(StrEnum):
    """Why an identifier was rejected; stable values a quality rule can count by."""

    LENGTH = "length"
    CHARACTERS = "characters"
    BIRTH_DATE = "birth_date"
    REGION = "region"
    ORG_CHECKSUM = "org_checksum"
    CHECKSUM = "checksum"


class InvalidIdentifierError(CodeError):
    """An identifier is malformed. Messages never repeat a personal identifier in clear."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class CatalogueError(CodeError):
    """A packaged catalogue file is missing or malformed; the message names file and line."""
