"""Registry errors, each with the Confluent REST error code its HTTP answer carries."""

from streamhub.errors import StreamhubError


class RegistryError(StreamhubError):
    http_status = 500
    error_code = 50001


class SubjectNotFoundError(RegistryError):
    http_status = 404
    error_code = 40401


class VersionNotFoundError(RegistryError):
    http_status = 404
    error_code = 40402


class SchemaNotFoundError(RegistryError):
    http_status = 404
    error_code = 40403


class SubjectConfigNotFoundError(RegistryError):
    http_status = 404
    error_code = 40408


class RegistryIncompatibleSchemaError(RegistryError):
    """The registry refuses a new version that breaks the subject's compatibility level (409).

    Named apart from :class:`streamhub.serde.errors.IncompatibleSchemaError`, what a client
    raises when the registry answers so."""

    http_status = 409
    error_code = 409


class RegistryInvalidSchemaError(RegistryError):
    """The registry refuses a request whose schema is not valid Avro or not well formed (42201).

    Named apart from :class:`streamhub.serde.errors.InvalidSchemaError`, the parse failure."""

    http_status = 422
    error_code = 42201


class InvalidVersionError(RegistryError):
    http_status = 422
    error_code = 42202


class InvalidCompatibilityLevelError(RegistryError):
    http_status = 422
    error_code = 42203


class StorageError(RegistryError):
    """The Kafka topic holding the registry could not be read or written."""

    http_status = 500
    error_code = 50002
