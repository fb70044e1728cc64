"""A connector file with ``capture_engine: debezium`` → its Kafka Connect connector config.

What the rendered config fixes, so the normalizer, the ops readers and operators can rely
on it (``streamhub connectors render NAME`` prints it):

- **Topics.** ``topic.prefix`` is ``dbz.<connector name>`` (one per connector file; it is
  also Debezium's logical server name, ``source.name`` in every event). Change events go
  to Debezium's own per-table topics under it::

      PostgreSQL     dbz.<name>.<schema>.<table>
      MySQL/MariaDB  dbz.<name>.<database>.<table>
      Oracle         dbz.<name>.<SCHEMA>.<TABLE>
      SQL Server     dbz.<name>.<database>.<schema>.<table>

  so ``^dbz\\.<name>\\..+`` (:func:`change_topic_pattern`) subscribes to exactly one
  connector's changes. Deletes are followed by a tombstone (``tombstones.on.delete``).
  Schema-change events are off (``include.schema.changes=false``); the schema history of
  MySQL, Oracle and SQL Server connectors is kept in ``_dbz_schema_history.<name>``
  (single partition, Debezium creates it), which no consumer reads.
- **Plugins.** PostgreSQL, MySQL, Oracle and SQL Server are Debezium 3.6.1.Final; MariaDB
  is ``io.debezium.connector.mariadb.MariaDbConnector`` of Debezium 3.5.0.Final, in a plugin
  directory of its own on the same worker: its 3.6.1.Final is not served by the Maven Central
  reachable here, and 3.6.1's MySQL connector refuses MariaDB 10.11 (it reads it as MySQL
  > 8.4 and asks for ``SHOW BINARY LOG STATUS``). Its config is the MySQL one with its class
  (the same property names for everything rendered here). A MySQL/MariaDB file with a
  non-UTF-8 ``encoding`` (text bytes in latin1 columns) is refused: Debezium decodes latin1
  as windows-1252 and its binlog reader replaces the five bytes that code page leaves
  undefined with U+FFFD, so GBK text there cannot be recovered.
- **Transaction metadata.** Oracle renders ``provide.transaction.metadata=true``: each
  event's ``transaction.total_order`` is the low bits of its version, so two changes of one
  row at one SCN stay ordered. Debezium then also writes BEGIN/END events to
  ``<topic.prefix>.transaction``, which a second RegexRouter sends to the shared
  ``dbz.transaction`` (:data:`TRANSACTION_TOPIC`), out of the change topics (for any
  connector whose properties turn the metadata on).
- **Heartbeats.** Every ``heartbeat_s`` of the connector file, each connector writes a
  heartbeat (key ``{"serverName": "dbz.<name>"}``, value ``{"ts_ms": …}``) routed by a
  RegexRouter from Debezium's ``__debezium-heartbeat.dbz.<name>`` into the one shared,
  catalogued topic ``dbz.heartbeat`` (:data:`HEARTBEAT_TOPIC`).
- **Converters.** Keys and values: Connect's JsonConverter with ``schemas.enable=true``,
  so each message carries its Connect schema and decimals, dates and times are decoded by
  their logical type names (``org.apache.kafka.connect.data.Decimal``,
  ``io.debezium.time.MicroTimestamp``…). Debezium's defaults otherwise:
  ``decimal.handling.mode=precise`` (base64 of the unscaled integer, scale in the schema),
  ``time.precision.mode=adaptive``. See docs/decisions/debezium.md for why not Avro.
- **Secrets.** ``database.password`` is a reference to the Connect worker's owner-only
  secrets file through Kafka's FileConfigProvider: ``${file:<file>:<name>.password}``.
  ``streamhub connectors apply`` writes the value there (from the connector file's
  password_env / password_file / password_secret); the rendered config never holds it.
"""

from __future__ import annotations

import re
from pathlib import Path

from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings
from streamhub.debezium.errors import RenderError
from streamhub.stack.connect import KafkaConnect, secret_reference

PREFIX = "dbz"
HEARTBEAT_TOPIC = "dbz.heartbeat"
#: transaction BEGIN/END events (``provide.transaction.metadata``), out of the change topics
TRANSACTION_TOPIC = "dbz.transaction"
#: Debezium's own heartbeat topic is ``<this>.<topic.prefix>``; the router renames it
DEBEZIUM_HEARTBEAT_PREFIX = "__debezium-heartbeat"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
REGEX_ROUTER = "org.apache.kafka.connect.transforms.RegexRouter"
CONNECTOR_CLASSES: dict[str, str] = {
    "postgresql": "io.debezium.connector.postgresql.PostgresConnector",
    "mysql": "io.debezium.connector.mysql.MySqlConnector",
    # Debezium 3.5.0.Final (its 3.6.1 is not served here; 3.6.1's MySQL connector refuses
    # MariaDB 10.11): stack/kafka-connect-mariadb.pom.xml
    "mariadb": "io.debezium.connector.mariadb.MariaDbConnector",
    "oracle": "io.debezium.connector.oracle.OracleConnector",
    "sqlserver": "io.debezium.connector.sqlserver.SqlServerConnector",
}
SNAPSHOT_MODES = {"initial": "initial", "never": "no_data"}
CHANGE_RETENTION_MS = 604_800_000  # 7 days, as cdc.raw.*: room to replay a week
# keys the rendered config owns: the normalizer and ops readers depend on them
OWNED_PREFIXES: tuple[str, ...] = ("connector.class", "topic.prefix", "topic.heartbeat.")
OWNED_PREFIXES += ("name", "key.converter", "value.converter", "transforms", "database.password")


def topic_prefix(config: ConnectorConfig) -> str:
    """Debezium's ``topic.prefix`` (and logical server name) for this connector file."""
    return f"{PREFIX}.{config.name}"


def change_topic_pattern(config: ConnectorConfig) -> str:
    """A regex (librdkafka's ``^`` subscription form) matching its change topics only."""
    return "^" + re.escape(topic_prefix(config)) + r"\..+"


def schema_history_topic(config: ConnectorConfig) -> str:
    return f"_{PREFIX}_schema_history.{config.name}"


def password_key(config: ConnectorConfig) -> str:
    """The connector's entry in the worker's secrets file."""
    return f"{config.name}.password"


def stack_secrets_file(settings: Settings) -> Path:
    """The stack worker's secrets file (the one its FileConfigProvider may read)."""
    return KafkaConnect(settings).worker.secrets_file


def qualified_tables(config: ConnectorConfig) -> list[str]:
    """The connector's tables as Debezium names them in its include list."""
    qualified = []
    for table in config.tables:
        parts = table.split(".")
        if config.engine in ("mysql", "mariadb"):
            parts = [config.connection.database, *parts] if len(parts) == 1 else parts
        elif config.engine == "sqlserver" and len(parts) == 1:
            parts = ["dbo", *parts]  # SQL Server's default schema
        if len(parts) != 2 or not all(parts):
            raise RenderError(
                f"connector {config.name}: table {table!r} must be named as "
                + {
                    "postgresql": "schema.table",
                    "oracle": "OWNER.TABLE",
                    "sqlserver": "schema.table (or a bare name in dbo)",
                }.get(config.engine, "table or database.table")
            )
        qualified.append(".".join(parts))
    return qualified


def render(
    config: ConnectorConfig, settings: Settings, secrets_file: Path | None = None
) -> dict[str, str]:
    """The Connect config of a Debezium connector file (the body of
    ``PUT /connectors/<name>/config``); ``secrets_file`` is the worker's secrets file
    (default: the stack worker's)."""
    if not config.by_debezium:
        raise RenderError(
            f"connector {config.name} is captured by streamhub's agent (capture_engine: "
            "streamhub); only capture_engine: debezium connectors have a Connect config"
        )
    if config.engine in ("mysql", "mariadb") and config.encoding != "utf-8":
        raise RenderError(
            f"connector {config.name}: encoding {config.encoding} says its latin1 columns hold "
            f"{config.encoding} bytes, which Debezium cannot carry (it decodes latin1 as "
            "windows-1252 and its binlog reader turns bytes 0x81 0x8D 0x8F 0x90 0x9D into "
            "U+FFFD); capture it with capture_engine: streamhub, or drop encoding: if the "
            "columns declare their own character set (gbk, utf8mb4)"
        )
    secrets = secrets_file or stack_secrets_file(settings)
    debezium = config.debezium
    conn = config.connection
    tables = qualified_tables(config)
    rendered: dict[str, str] = {
        "connector.class": CONNECTOR_CLASSES[config.engine],
        "tasks.max": "1",
        "topic.prefix": topic_prefix(config),
        "database.hostname": conn.host,
        "database.port": str(conn.port),
        "database.user": conn.user,
        "database.password": secret_reference(secrets, password_key(config)),
        "table.include.list": ",".join(_literal(t) for t in tables),
        "snapshot.mode": _snapshot_mode(config),
        "heartbeat.interval.ms": str(round(config.heartbeat_s * 1000)),
        "topic.heartbeat.prefix": DEBEZIUM_HEARTBEAT_PREFIX,
        "transforms": "heartbeat",
        "transforms.heartbeat.type": REGEX_ROUTER,
        "transforms.heartbeat.regex": DEBEZIUM_HEARTBEAT_PREFIX + r"\..*",
        "transforms.heartbeat.replacement": HEARTBEAT_TOPIC,
        "key.converter": JSON_CONVERTER,
        "key.converter.schemas.enable": "true",
        "value.converter": JSON_CONVERTER,
        "value.converter.schemas.enable": "true",
        "decimal.handling.mode": "precise",
        "tombstones.on.delete": "true",
        "topic.creation.default.partitions": "1",
        "topic.creation.default.replication.factor": "-1",
        "topic.creation.default.cleanup.policy": "delete",
        "topic.creation.default.retention.ms": str(CHANGE_RETENTION_MS),
    }
    rendered |= _dialect(config, settings)
    if debezium:
        rendered |= _extra(config, debezium.properties)
    if rendered.get("provide.transaction.metadata", "").lower() == "true":
        rendered |= _transaction_router(config)
    return rendered


def _transaction_router(config: ConnectorConfig) -> dict[str, str]:
    """With transaction metadata on, Debezium writes BEGIN/END events to
    ``<topic.prefix>.transaction``, which the change topic pattern would match: a second
    RegexRouter sends them to the shared :data:`TRANSACTION_TOPIC` (no one reads it; the
    versions need only each change event's own ``transaction`` block)."""
    return {
        "transforms": "heartbeat,transaction",
        "transforms.transaction.type": REGEX_ROUTER,
        "transforms.transaction.regex": re.escape(topic_prefix(config) + ".transaction"),
        "transforms.transaction.replacement": TRANSACTION_TOPIC,
    }


def _dialect(config: ConnectorConfig, settings: Settings) -> dict[str, str]:
    conn = config.connection
    history = {
        "include.schema.changes": "false",
        "schema.history.internal.kafka.bootstrap.servers": settings.kafka_bootstrap,
        "schema.history.internal.kafka.topic": schema_history_topic(config),
        "schema.history.internal.store.only.captured.tables.ddl": "true",
    }
    if config.engine == "postgresql":
        slot = "dbz_" + config.name.replace("-", "_")
        return {
            "database.dbname": conn.database,
            "plugin.name": "pgoutput",
            "slot.name": slot,
            "publication.name": slot,
            "publication.autocreate.mode": "filtered",
        }
    if config.engine in ("mysql", "mariadb"):
        assert config.mysql is not None  # the connector model requires it for MySQL/MariaDB
        return history | {
            "database.server.id": str(config.mysql.server_id),
            "database.include.list": _literal(conn.database),
        }
    if config.engine == "oracle":
        oracle = {
            "database.dbname": conn.database,
            "database.connection.adapter": "logminer",
            "log.mining.strategy": (
                config.debezium.log_mining_strategy if config.debezium else "online_catalog"
            ),
        }
        if config.debezium and config.debezium.pdb:
            oracle["database.pdb.name"] = config.debezium.pdb
        # each event's transaction block: its total_order is the low bits of the version
        # (positions.py), so two changes of one row at one SCN stay ordered downstream
        oracle["provide.transaction.metadata"] = "true"
        return history | oracle
    return history | {"database.names": conn.database}  # sqlserver


def _snapshot_mode(config: ConnectorConfig) -> str:
    return snapshot_mode(config)


#: Debezium snapshot modes that read no table data (``never``: its old name)
NO_DATA_MODES = frozenset({"no_data", "never"})


def snapshot_mode(config: ConnectorConfig) -> str:
    """Debezium's ``snapshot.mode`` for this connector file."""
    chosen = config.debezium.snapshot_mode if config.debezium else None
    return chosen or SNAPSHOT_MODES[config.snapshot.mode]


def _literal(name: str) -> str:
    """A name as an include-list regex that matches only itself."""
    return re.escape(name)


def _extra(config: ConnectorConfig, properties: dict[str, str]) -> dict[str, str]:
    """The file's further properties, refused where they would break what streamhub owns."""
    for key, value in properties.items():
        if key.startswith(OWNED_PREFIXES):
            raise RenderError(
                f"connector {config.name}: debezium.properties may not set {key}: streamhub "
                "renders it (topics, converters, routing and the password reference)"
            )
        if "password" in key.lower() and not value.startswith("${"):
            raise RenderError(
                f"connector {config.name}: debezium.properties.{key} looks like a password; "
                "give it as a config provider reference (${file:...}), never the value"
            )
    return dict(properties)
