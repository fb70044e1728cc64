from streamhub.errors import StreamhubError


class StackError(StreamhubError):
    """A local-stack service could not be installed, started or stopped."""


class MissingSoftwareError(StackError):
    """A required program is absent and cannot be installed by us (not root)."""


class ConnectRestError(StackError):
    """The Kafka Connect worker's REST API refused a request (its message says why)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, None when it was not an HTTP answer
