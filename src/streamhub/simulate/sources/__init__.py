"""The institutions' databases as the simulator writes them: one module per engine."""

from streamhub.config import Settings
from streamhub.simulate.dialect import Engine
from streamhub.simulate.sources.base import SourceDatabases


def open_sources(settings: Settings, engine: Engine) -> SourceDatabases:
    if engine == "postgres":
        from streamhub.simulate.sources.postgres_source import PostgresSource

        return PostgresSource(settings)
    from streamhub.simulate.sources.mariadb_source import MariaDBSource

    return MariaDBSource(settings)


__all__ = ["SourceDatabases", "open_sources"]
