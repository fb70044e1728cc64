"""Errors of the web app."""

from streamhub.errors import StreamhubError


class WebError(StreamhubError):
    """Base of the errors the web app raises."""


class UsersFileError(WebError):
    """The users file cannot be read or written, or an entry in it is malformed."""


class InvalidUserError(WebError):
    """A user name, role or password given to `streamhub users add` is not acceptable."""


class BadParameterError(WebError):
    """A request parameter is malformed (answered with HTTP 400 and this message)."""


class NotFoundError(WebError):
    """A topic, anomaly or reconciliation window named by a request does not exist (404)."""


class ServiceUnavailableError(WebError):
    """Something the request needs (Kafka, ClickHouse, a vendor file) is not there now (503)."""


class SignInBusyError(WebError):
    """Every password-hash slot stayed busy: the sign-in is refused (503), not queued."""


class AuditWriteError(WebError):
    """An audit record could not be written: the request is not served (503)."""
