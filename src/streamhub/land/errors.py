"""Errors of the ClickHouse sink: connecting, migrating, landing.

Each says what failed and what to do. ``transient`` tells the lander whether waiting and
retrying can help (a server restarting, too many parts) or an operator must act first.
"""

from streamhub.errors import StreamhubError


class SinkError(StreamhubError):
    """Base of the ClickHouse sink's errors."""

    transient = False


class ClickHouseUnavailableError(SinkError):
    """ClickHouse did not answer or asked us to slow down; retry later, nothing was landed."""

    transient = True


class KafkaUnavailableError(SinkError):
    """Kafka did not acknowledge the lander's dead letters or landed counts in time."""

    transient = True


class ClickHouseQueryError(SinkError):
    """ClickHouse refused a statement (bad SQL, missing table, wrong type)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class EngineInUseError(SinkError):
    """The embedded chDB directory is already open in this process under another path."""


class MigrationError(SinkError):
    """A migration failed or an applied migration's file was changed afterwards."""


class SchemaMismatchError(SinkError):
    """A table lacks columns the lander writes: the database is not migrated."""


class LandError(SinkError):
    """The lander stopped without committing its last batch; restart it to resume."""


class LanderConfigError(SinkError):
    """The lander's configuration is invalid (a field out of range, an unknown field)."""
