"""The lander's configuration: one model, whose defaults the CLI shows and whose schema the
chart's values schema joins."""

from __future__ import annotations

import click
import pytest

from streamhub.cli.land_cmd import land_cmd
from streamhub.config import Settings
from streamhub.land.config import LanderConfig
from streamhub.land.errors import LanderConfigError
from streamhub.land.targets import DEFAULT_ROUTES

SECRET_DSN = "http://lander:hunter2-secret@clickhouse:8123"


def test_defaults_and_connection_fields_from_settings() -> None:
    settings = Settings()
    config = LanderConfig.from_settings(settings, "streamhub_test")
    assert config.bootstrap == settings.kafka_bootstrap
    assert config.group == settings.lander_group
    assert config.avro_dir == settings.project_dir / "avro_schemas"
    assert config.routes == DEFAULT_ROUTES
    assert (config.flush_rows, config.flush_ms, config.retry_for_s) == (5_000, 200, 60.0)
    assert config.landed_counts_topic == "ops.landed_counts" and config.dlq_topic == "dlq.land"
    with pytest.raises(ValueError, match="frozen"):
        config.flush_rows = 1  # type: ignore[misc]


def test_invalid_values_are_refused_naming_the_field_never_the_value() -> None:
    with pytest.raises(LanderConfigError, match="flush_rows") as caught:
        LanderConfig.from_settings(Settings(), "db", dsn=SECRET_DSN, flush_rows=0)
    assert "hunter2" not in str(caught.value)
    with pytest.raises(LanderConfigError, match="auto_offset_reset"):
        LanderConfig.from_settings(Settings(), "db", auto_offset_reset="middle")
    with pytest.raises(LanderConfigError, match="flush_row"):
        LanderConfig.from_settings(Settings(), "db", flush_row=10)  # a typo is not ignored


def test_the_cli_shows_the_models_defaults() -> None:
    options = {p.name: p for p in land_cmd.params if isinstance(p, click.Option)}
    for option, field in (
        ("flush_rows", "flush_rows"),
        ("flush_ms", "flush_ms"),
        ("landed_counts_topic", "landed_counts_topic"),
        ("dlq_topic", "dlq_topic"),
        ("progress_every", "progress_every_s"),
    ):
        assert options[option].default == LanderConfig.default(field), option
        assert options[option].help == LanderConfig.model_fields[field].description


def test_json_schema_documents_every_field() -> None:
    schema = LanderConfig.model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {
        "bootstrap",
        "registry_url",
        "dsn",
        "database",
        "group",
        "avro_dir",
    }
    properties = schema["properties"]
    assert all(p.get("description") for p in properties.values())
    assert properties["flush_rows"]["default"] == 5_000 and properties["flush_rows"]["minimum"] == 1
    assert properties["auto_offset_reset"]["enum"] == ["earliest", "latest"]
