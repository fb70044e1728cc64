"""The MariaDB/MySQL capture engine, as the registry in ``capture/source.py`` knows it."""

from __future__ import annotations

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.contracts import CheckResult
from streamhub.capture.mysql import preflight
from streamhub.capture.mysql.log_reader import MySQLLogReader
from streamhub.capture.mysql.snapshot_reader import MySQLSnapshotReader
from streamhub.core.clock import Clock


class MySQLEngine:
    """The GTID binlog (MariaDB, MySQL) through pymysqlreplication; snapshots over PyMySQL."""

    def check(self, config: ConnectorConfig, password: str) -> list[CheckResult]:
        return preflight.check(config, password)

    def log_reader(self, config: ConnectorConfig, password: str, clock: Clock) -> MySQLLogReader:
        return MySQLLogReader(config, password, clock=clock)

    def snapshot_reader(self, config: ConnectorConfig, password: str) -> MySQLSnapshotReader:
        return MySQLSnapshotReader(config, password)


MYSQL = MySQLEngine()
