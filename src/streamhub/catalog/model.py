"""One topic of the catalog, as written in ``topics/*.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from streamhub.kafka.topics import min_insync_for

SecurityLevel = Literal[1, 2, 3, 4, 5]


class TopicSpec(BaseModel):
    """A topic's shape and meaning; ``security_level`` follows GB/T 39725-2020 (1 public .. 5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z_][a-z0-9_.\-]*$")
    partitions: int = Field(ge=1, le=1000)
    replication: int = Field(ge=1, le=7, description="Production replication; capped to brokers.")
    cleanup_policy: Literal["delete", "compact", "compact,delete"]
    retention_ms: int = Field(ge=-1, description="-1 keeps data forever.")
    key: str = Field(min_length=3, description="What the message key is.")
    value_format: Literal["avro", "json"] = Field(
        default="avro",
        description="avro: the Confluent wire format, value_schema names the schema; json: JSON "
        "written by Kafka Connect (its own state topics, Debezium's JsonConverter), no schema.",
    )
    value_schema: str | None = Field(
        default=None, pattern=r"^[a-z_/]+\.avsc$", description="Path under avro_schemas/ (avro)."
    )
    value_subject: Literal["topic", "record"] = Field(
        default="topic",
        description="topic: one schema registered as <topic>-value by `topics apply`; "
        "record: one schema per source table, registered by its producer.",
    )
    security_level: SecurityLevel
    security_category: str = Field(min_length=2, description="GB/T 39725 data category.")
    owner: str = Field(min_length=2)
    description: str = Field(min_length=10)
    configs: dict[str, str] = Field(default_factory=dict, description="Extra topic configs.")

    @model_validator(mode="after")
    def _schema_for_avro(self) -> TopicSpec:
        if (self.value_format == "avro") != (self.value_schema is not None):
            raise ValueError("an avro topic names its value_schema; a json topic has none")
        return self

    def desired_configs(self, replication: int) -> dict[str, str]:
        """The topic's configs at ``replication`` replicas (the catalog's, capped to the
        cluster): ``min.insync.replicas`` is the catalog's when it names one, else the
        cluster rule (2 at 3 replicas), and never more than the rule allows, so an
        ``acks=all`` write goes on while one broker is down (1 on a single broker)."""
        configs = {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}
        configs.update(self.configs)
        allowed = min_insync_for(replication)
        wanted = int(configs.get("min.insync.replicas", allowed))
        configs["min.insync.replicas"] = str(min(wanted, allowed))
        return configs
