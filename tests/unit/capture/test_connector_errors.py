"""A bad connector file is a ConnectorConfigError naming file and field, never its values."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamhub.capture.connector import load_connector, load_connectors
from streamhub.capture.errors import ConnectorConfigError
from streamhub.codes import credit_code

GOOD_ID = credit_code.make("1", "2", "350203", "15498973")


def connector_yaml(name: str, institution_id: str, extra: str = "") -> str:
    return (
        f"name: {name}\n"
        f"institution_id: '{institution_id}'\n"
        f"institution_name: 医院{name}\n"
        "system: his\n"
        "engine: postgresql\n"
        "connection:\n"
        "  port: 5432\n"
        "  database: his\n"
        "  user: capture\n"
        "  password_env: HIS_PASSWORD\n"
        f"{extra}"
        "tables: [public.patient]\n"
        "profile: vendor_a\n"
    )


def bad_check_character(code: str) -> str:
    wrong = next(c for c in "0123456789ABCDEFGHJKLMNPQRTUWXY" if c != code[17])
    return code[:17] + wrong


def test_a_bad_credit_code_check_character_is_a_connector_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(connector_yaml("bad", bad_check_character(GOOD_ID)), encoding="utf-8")
    with pytest.raises(ConnectorConfigError) as caught:
        load_connector(path)
    message = str(caught.value)
    assert str(path) in message
    assert "institution_id" in message and "check character does not match" in message
    assert "unified social credit code" in message  # what to do


def test_a_stray_password_is_named_but_never_echoed(tmp_path: Path) -> None:
    path = tmp_path / "leaky.yaml"
    path.write_text(
        connector_yaml("leaky", GOOD_ID, extra="  password: hunter2-secret\n"), encoding="utf-8"
    )
    with pytest.raises(ConnectorConfigError) as caught:
        load_connector(path)
    message = str(caught.value)
    assert "connection.password" in message and "Extra inputs are not permitted" in message
    assert "hunter2-secret" not in message
    assert "hunter2-secret" not in repr(caught.value.__cause__)


def test_a_password_in_a_yaml_syntax_error_is_not_quoted(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\npassword: hunter2-secret: [\n", encoding="utf-8")
    with pytest.raises(ConnectorConfigError, match="not valid YAML at line") as caught:
        load_connector(path)
    assert "hunter2-secret" not in str(caught.value)


def test_readers_that_only_look_skip_a_bad_file_and_keep_the_others(tmp_path: Path) -> None:
    other = credit_code.make("1", "2", "350206", "25498970")
    (tmp_path / "a.yaml").write_text(connector_yaml("a", GOOD_ID), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        connector_yaml("b", bad_check_character(other)), encoding="utf-8"
    )
    (tmp_path / "c.yaml").write_text(connector_yaml("c", other), encoding="utf-8")
    with pytest.raises(ConnectorConfigError):
        load_connectors(tmp_path)  # capture itself still refuses to start on a bad file
    skipped: list[ConnectorConfigError] = []
    found = load_connectors(tmp_path, on_error=skipped.append)
    assert [c.name for c in found] == ["a", "c"]
    assert len(skipped) == 1 and "b.yaml" in str(skipped[0])


def test_the_health_view_keeps_the_other_connectors(tmp_path: Path, project_dir: Path) -> None:
    from streamhub.config import load_settings
    from streamhub.health.gather import configured_connectors

    (tmp_path / "a.yaml").write_text(connector_yaml("a", GOOD_ID), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        connector_yaml("b", bad_check_character(GOOD_ID)), encoding="utf-8"
    )
    settings = load_settings(project_dir=project_dir, connectors_dir=tmp_path)
    assert [c.name for c in configured_connectors(settings)] == ["a"]
