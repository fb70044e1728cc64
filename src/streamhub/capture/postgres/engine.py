"""The PostgreSQL capture engine, as the registry in ``capture/source.py`` knows it."""

from __future__ import annotations

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import CheckResult
from streamhub.capture.postgres import preflight
from streamhub.capture.postgres.log_reader import PostgresLogReader
from streamhub.capture.postgres.snapshot_reader import PostgresSnapshotReader
from streamhub.core.clock import Clock


class PostgresEngine:
    """pgoutput over a logical replication slot; snapshots on an ordinary connection."""

    def check(self, config: ConnectorConfig, password: str) -> list[CheckResult]:
        return preflight.check(config, password)

    def log_reader(self, config: ConnectorConfig, password: str, clock: Clock) -> PostgresLogReader:
        return PostgresLogReader(config, password, clock=clock)

    def snapshot_reader(self, config: ConnectorConfig, password: str) -> PostgresSnapshotReader:
        return PostgresSnapshotReader(config, password)


POSTGRES = PostgresEngine()
