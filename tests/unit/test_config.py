from pathlib import Path

import pytest

from streamhub.config import load_settings
from streamhub.errors import ConfigError


def test_defaults_describe_the_local_stack(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.kafka_bootstrap == "127.0.0.1:39092"
    assert s.clickhouse_dsn == f"chdb://{tmp_path}/clickhouse"


def test_environment_overrides_and_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMHUB_KAFKA_BOOTSTRAP", "no-port-here")
    with pytest.raises(ConfigError, match=r"STREAMHUB_KAFKA_BOOTSTRAP \(kafka_bootstrap\)"):
        load_settings()


def test_clickhouse_dsn_must_be_chdb_or_http() -> None:
    assert load_settings(clickhouse_dsn="http://ch:8123").clickhouse_dsn == "http://ch:8123"
    with pytest.raises(ConfigError, match="clickhouse_dsn"):
        load_settings(clickhouse_dsn="mysql://x")


def test_unknown_setting_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "streamhub.yaml"
    config.write_text("kafka_bootstrap: 10.0.0.1:9092\nkafak_typo: 1\n")
    monkeypatch.setenv("STREAMHUB_CONFIG", str(config))
    with pytest.raises(ConfigError, match="kafak_typo"):
        load_settings()


def test_yaml_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "streamhub.yaml"
    config.write_text("kafka_bootstrap: kafka-a:9092\npostgres_port: 6543\n")
    monkeypatch.setenv("STREAMHUB_CONFIG", str(config))
    monkeypatch.setenv("STREAMHUB_POSTGRES_PORT", "7000")
    s = load_settings()
    assert s.kafka_bootstrap == "kafka-a:9092"
    assert s.postgres_port == 7000


def test_secret_from_file_is_masked_everywhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "key"
    secret.write_text("s3cr3t-value\n")
    monkeypatch.setenv("STREAMHUB_PSEUDONYM_KEY_FILE", str(secret))
    s = load_settings(data_dir=tmp_path)
    assert s.require_secret("pseudonym_key") == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(s)
    assert "s3cr3t-value" not in str(s.masked())


def test_missing_secret_file_and_missing_secret_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(pseudonym_key_file=tmp_path / "absent")
    with pytest.raises(ConfigError, match="STREAMHUB_PSEUDONYM_KEY_FILE"):
        load_settings(data_dir=tmp_path).require_secret("pseudonym_key")
