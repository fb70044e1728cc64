"""The capture engines by name: the connector's ``engine`` picks one from this registry.

The contract each engine implements is in :mod:`streamhub.capture.contracts`; engines
import that module, never this one, so registering them here makes no import loop.
"""

from __future__ import annotations

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import CaptureEngine, CheckResult, LogReader, SnapshotReader
from streamhub.capture.errors import (
    ConnectorConfigError,
    DuplicateEngineError,
    UnknownEngineError,
)
from streamhub.capture.mysql.engine import MYSQL
from streamhub.capture.postgres.engine import POSTGRES
from streamhub.core.clock import SYSTEM_CLOCK, Clock

ENGINES: dict[str, CaptureEngine] = {}


def register_engine(name: str, engine: CaptureEngine) -> None:
    """Make ``engine`` the one connectors with ``engine: <name>`` use; a name is taken once."""
    if name in ENGINES:
        raise DuplicateEngineError(name)
    ENGINES[name] = engine


register_engine("postgresql", POSTGRES)
register_engine("mariadb", MYSQL)
register_engine("mysql", MYSQL)


def engine_for(config: ConnectorConfig) -> CaptureEngine:
    if config.by_debezium:  # two engines reading one source would emit every change twice
        raise ConnectorConfigError(
            f"connector {config.name} is captured by Debezium (capture_engine: debezium), not "
            f"by streamhub's agent: `streamhub connectors apply {config.name}` runs it"
        )
    try:
        return ENGINES[config.engine]
    except KeyError:
        raise UnknownEngineError(config.name, config.engine, sorted(ENGINES)) from None


def check_source(config: ConnectorConfig, password: str) -> list[CheckResult]:
    """Pre-flight checks for the connector's engine."""
    return engine_for(config).check(config, password)


def open_readers(
    config: ConnectorConfig, password: str, clock: Clock = SYSTEM_CLOCK
) -> tuple[LogReader, SnapshotReader]:
    """The connector's log and snapshot readers; neither connects before first use."""
    engine = engine_for(config)
    return engine.log_reader(config, password, clock), engine.snapshot_reader(config, password)
