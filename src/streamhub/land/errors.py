"""Errors of landing into ClickHouse: connecting, migrating, querying, the lander's run.

Each says what failed and what to do. ``transient`` tells the lander whether waiting and
retrying can help (a server restarting, too many parts) or an operator must act first.
"""

from __future__ import annotations

from streamhub.errors import StreamhubError


class LandError(StreamhubError):
    """Base of the land package's errors."""

    transient = False


class ClickHouseUnavailableError(LandError):
    """ClickHouse did not answer or asked us to slow down; retry later, nothing was landed."""

    transient = True


class KafkaUnavailableError(LandError):
    """Kafka did not acknowledge the lander's dead letters or landed counts in time."""

    transient = True


class ClickHouseQueryError(LandError):
    """ClickHouse refused a statement (bad SQL, missing table, wrong type).

    ``code`` is the server's numeric error code and ``name`` its symbolic name
    (``UNKNOWN_TABLE``…), when the server gave them."""

    def __init__(self, message: str, code: int | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


class EngineInUseError(LandError):
    """The embedded chDB directory is already open in this process under another path."""


class MigrationError(LandError):
    """A migration failed or an applied migration's file was changed afterwards."""


class SchemaMismatchError(LandError):
    """A table lacks columns the lander writes: the database is not migrated."""


class LanderConfigError(LandError):
    """The lander's configuration is invalid (a field out of range, an unknown field or
    target, a drill variable that is not a number)."""


class LandingFailedError(LandError):
    """The lander stopped without committing its last batch; restart it to resume."""


class ClusterDdlError(LandError):
    """A migration statement has no known cluster form (or a cluster setting is invalid)."""
