"""The lander's configuration: where it reads, where it lands, and when it flushes.

``streamhub land`` takes its option defaults from this model, and its JSON Schema
(:meth:`LanderConfig.model_json_schema`) joins the chart's values schema, so the defaults and
their meaning are written once, here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streamhub.config import Settings
from streamhub.core.topic_names import DLQ_LAND, LANDED_COUNTS
from streamhub.land.errors import LanderConfigError
from streamhub.land.targets import DEFAULT_ROUTES


class LanderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap: str = Field(description="Kafka bootstrap servers (host:port[,host:port…]).")
    registry_url: str = Field(description="Schema registry URL.")
    dsn: str = Field(
        description="ClickHouse: chdb:///abs/path (embedded) or http(s)://host:8123 (a server)."
    )
    database: str = Field(description="ClickHouse database the lander writes (migrated first).")
    group: str = Field(description="Kafka consumer group; offsets are committed after landing.")
    avro_dir: Path = Field(
        description="avro_schemas/: where the dead-letter and landed-counts schemas are read."
    )
    routes: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_ROUTES),
        description="Topic → target table (an entity such as encounter, or an ops table).",
    )
    landed_counts_topic: str = Field(
        default=LANDED_COUNTS,
        description="Where each flush's counts per source table and minute are sent.",
    )
    dlq_topic: str = Field(
        default=DLQ_LAND,
        description="Dead letters: undecodable messages and rows ClickHouse refuses.",
    )
    flush_rows: int = Field(
        default=5_000, ge=1, description="Flush when this many messages are buffered."
    )
    flush_ms: int = Field(
        default=200, ge=1, description="Flush when the oldest buffered message is this old."
    )
    ops_flush_ms: int = Field(
        default=2_000,
        ge=1,
        description="Flush the ops tables' buffer (topics routed to a table without an entity: "
        "quality, landed counts, heartbeats, dead letters…) when its oldest message is this "
        "old; the std.* buffer keeps flush_ms, so a latency-critical flush inserts only std.* "
        "tables.",
    )
    until_idle_s: float | None = Field(
        default=None,
        gt=0,
        description="Stop after no new message for this many seconds (tests, backfills); "
        "unset: run until stopped.",
    )
    progress_every_s: float = Field(
        default=10.0, gt=0, description="Seconds between progress lines on stderr."
    )
    consume_batch: int = Field(
        default=1_000, ge=1, description="Most messages taken from Kafka per poll."
    )
    retry_for_s: float = Field(
        default=60.0,
        ge=0,
        description="How long transient ClickHouse or Kafka failures are retried before the "
        "lander stops without committing its batch.",
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest",
        description="Where a new consumer group starts reading.",
    )

    @classmethod
    def from_settings(cls, settings: Settings, database: str, **overrides: Any) -> LanderConfig:
        """The connection fields from ``settings``, anything else from ``overrides``."""
        values: dict[str, Any] = {
            "bootstrap": settings.kafka_bootstrap,
            "registry_url": settings.registry_url,
            "dsn": settings.clickhouse_dsn,
            "database": database,
            "group": settings.lander_group,
            "avro_dir": settings.project_dir / "avro_schemas",
        }
        try:
            return cls(**{**values, **overrides})
        except ValidationError as exc:
            raise LanderConfigError(_problems(exc)) from None

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of field ``name`` (the CLI's option defaults)."""
        return cls.model_fields[name].get_default(call_default_factory=True)


def _problems(exc: ValidationError) -> str:
    # the fields and what is wrong, never the values (a DSN may carry a password)
    found = "; ".join(
        f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
    )
    return f"lander configuration: {found}"
