"""The local stack's services, in start order (the registry needs Kafka)."""

from __future__ import annotations

from streamhub.config import Settings
from streamhub.stack.kafka import Kafka
from streamhub.stack.mariadb import MariaDB
from streamhub.stack.postgres import Postgres
from streamhub.stack.registry import Registry
from streamhub.stack.service import Service

SERVICE_TYPES: dict[str, type[Service]] = {
    "kafka": Kafka,
    "registry": Registry,
    "postgres": Postgres,
    "mariadb": MariaDB,
}


def services(
    settings: Settings, names: tuple[str, ...] = (), brokers: int | None = None
) -> list[Service]:
    """The named services (all by default); ``brokers`` sizes a new Kafka cluster."""
    chosen = names or tuple(SERVICE_TYPES)
    return [
        Kafka(settings, brokers) if name == "kafka" else SERVICE_TYPES[name](settings)
        for name in SERVICE_TYPES
        if name in chosen
    ]
