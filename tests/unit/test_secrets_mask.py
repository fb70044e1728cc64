"""No password of a DSN/URL in what streamhub prints: config show, start-up lines, errors."""

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamhub import log as logs
from streamhub.cli.main import cli
from streamhub.cli.serve_cmd import _via
from streamhub.config import load_settings
from streamhub.errors import ConfigError
from streamhub.land.clickhouse import connect
from streamhub.land.errors import LandError
from streamhub.secrets_mask import has_password, mask_text, mask_url

SECRET = "topsecret"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:topsecret@127.0.0.1:8123", "http://u:***@127.0.0.1:8123"),
        ("https://u:top%40secret@ch.example:8443/?x=1", "https://u:***@ch.example:8443/?x=1"),
        ("http://ch:8123/?user=u&password=topsecret", "http://ch:8123/?user=u&password=***"),
        ("http://u@127.0.0.1:8123", "http://u@127.0.0.1:8123"),
        ("chdb:///data/clickhouse", "chdb:///data/clickhouse"),
        ("http://127.0.0.1:38081", "http://127.0.0.1:38081"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert has_password(url) is (url != shown)


def test_mask_text_finds_urls_and_password_pairs_in_a_message() -> None:
    text = (
        "cannot reach http://u:topsecret@h:1/x (host='h'); "
        "dsn host=h password=topsecret2 user=u; {'password': 'topsecret3'}"
    )
    masked = mask_text(text)
    assert "topsecret" not in masked
    assert "http://u:***@h:1/x" in masked


def _show(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> str:
    monkeypatch.setenv("STREAMHUB_DATA_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["config", "show"])
    assert result.exit_code == 0, result.output
    return result.output


def test_config_show_masks_the_dsn_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    output = _show(
        monkeypatch,
        tmp_path,
        STREAMHUB_CLICKHOUSE_DSN="http://u:topsecret@127.0.0.1:8123",
        STREAMHUB_REGISTRY_URL="http://r:topsecret@127.0.0.1:38081",
        STREAMHUB_POSTGRES_PASSWORD="topsecret-pg",
    )
    assert SECRET not in output
    shown = json.loads(output)
    assert shown["clickhouse_dsn"] == "http://u:***@127.0.0.1:8123"
    assert shown["registry_url"] == "http://r:***@127.0.0.1:38081"
    assert shown["postgres_password"] == "**********"


def test_a_bad_dsn_is_not_quoted_with_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(clickhouse_dsn="ftp://u:topsecret@h:1")
    assert SECRET not in str(caught.value)


def test_query_url_refuses_credentials() -> None:
    with pytest.raises(ConfigError, match="query_token") as caught:
        load_settings(query_url="http://u:topsecret@127.0.0.1:39106")
    assert SECRET not in str(caught.value)


def test_serve_start_up_line_masks_the_dsn_password() -> None:
    assert _via("http://u:topsecret@127.0.0.1:8123", "http://127.0.0.1:39106") == (
        "http://u:***@127.0.0.1:8123"
    )
    assert "39106" in _via("chdb:///x", "http://127.0.0.1:39106")


def test_a_connection_error_does_not_carry_the_password() -> None:
    with pytest.raises(LandError) as caught:
        connect("http://u:topsecret@127.0.0.1:1", "streamhub")
    assert "127.0.0.1:1" in str(caught.value)  # still says where
    assert SECRET not in str(caught.value)


def test_settings_list_every_secret_value(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "web_official_password").write_text("web-password-1\n")
    (secrets / "query_token").write_text("query-token-value\n")
    settings = load_settings(
        data_dir=tmp_path, clickhouse_dsn="http://u:dsn-password@127.0.0.1:8123"
    )
    assert {"web-password-1", "query-token-value", "dsn-password"} <= settings.secret_values()


def test_each_key_of_a_keyring_is_a_secret_value(tmp_path: Path) -> None:
    """A rotated pseudonym keyring holds one key per line; each is redacted on its own."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "pseudonym_keys").write_text(
        "k1 2026-11-01T00:00:00Z first-key-0123456789abcdef\n"
        "k2 2026-12-06T02:00:00Z second-key-0123456789abcdef\n"
    )
    values = load_settings(data_dir=tmp_path).secret_values()
    assert {"first-key-0123456789abcdef", "second-key-0123456789abcdef"} <= values


def test_log_lines_are_redacted_of_known_secrets() -> None:
    logs.redact_secrets(["s3cr3t-value-xyz", 'quo"te-secret'])
    record = logging.LogRecord(
        "t", logging.ERROR, __file__, 1, "connect failed with %s", ("s3cr3t-value-xyz",), None
    )
    record.dsn = "http://u:another-pw@h:1"
    record.detail = {"password": 'quo"te-secret'}
    try:
        raise RuntimeError("token s3cr3t-value-xyz refused")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    line = logs.JsonFormatter().format(record)
    for secret in ("s3cr3t-value-xyz", "another-pw", "quo"):
        assert secret not in line
    event = json.loads(line)
    assert event["event"] == "connect failed with ***"
    assert event["dsn"] == "http://u:***@h:1"
