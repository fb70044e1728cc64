"""`streamhub users add|list`: passwords from a file or stdin, checked, never printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from streamhub.cli.serve_cmd import users_group
from streamhub.web.auth import read_users, verify_password


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("STREAMHUB_CONFIG", raising=False)
    monkeypatch.setenv("STREAMHUB_DATA_DIR", str(tmp_path))
    return CliRunner()


def test_add_from_stdin_and_file_then_list(run: CliRunner, tmp_path: Path) -> None:
    added = run.invoke(users_group, ["add", "wang", "--role", "official"], input="pw-wang-1\n",
                       obj={})  # fmt: skip
    assert added.exit_code == 0, added.output
    secret = tmp_path / "pw"
    secret.write_text("pw-li-1234\n")
    args = ["add", "li", "--role", "operator", "--password-file", str(secret)]
    assert run.invoke(users_group, args, obj={}).exit_code == 0
    users = read_users(tmp_path / "web" / "users.yaml")
    assert verify_password("pw-wang-1", users["wang"].password_hash)
    assert verify_password("pw-li-1234", users["li"].password_hash)
    listed = run.invoke(users_group, ["list"], obj={})
    assert listed.exit_code == 0
    assert "wang" in listed.output and "operator" in listed.output
    assert "pbkdf2" not in listed.output


def test_short_passwords_and_unknown_roles_are_refused(run: CliRunner, tmp_path: Path) -> None:
    short = run.invoke(users_group, ["add", "wang", "--role", "official"], input="short\n", obj={})
    assert short.exit_code != 0 and "at least 8" in short.output
    role = run.invoke(users_group, ["add", "wang", "--role", "admin"], input="x" * 9, obj={})
    assert role.exit_code != 0
    assert not (tmp_path / "web" / "users.yaml").exists()
