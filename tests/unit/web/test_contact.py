"""The institution contact's binding: checked when the users file is read and on `users add`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi import HTTPException
from starlette.requests import Request

from streamhub.cli.serve_cmd import users_group
from streamhub.codes import credit_code
from streamhub.web.auth import (
    Session,
    User,
    allowed,
    check_new_user,
    read_users,
    write_users,
)
from streamhub.web.contact import NOT_YOURS, scoped, shows_source_keys
from streamhub.web.errors import InvalidUserError, UsersFileError

A = credit_code.make("1", "2", "350203", "15498973")
B = credit_code.make("1", "2", "350206", "25498970")


def _write(path: Path, entry: str) -> None:
    path.write_text(f"users:\n  - {{name: chen, password_hash: x, {entry}}}\n")


def test_a_contact_is_bound_to_one_valid_institution(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    _write(path, "role: institution_contact")
    with pytest.raises(UsersFileError, match="without an institution"):
        read_users(path)
    _write(path, "role: institution_contact, institution_id: XYZ")
    with pytest.raises(UsersFileError, match="not a unified social credit code"):
        read_users(path)
    _write(path, f"role: operator, institution_id: {A}")
    with pytest.raises(UsersFileError, match="not bound to an institution"):
        read_users(path)
    write_users(path, {"chen": User("chen", "institution_contact", "x", A)})
    assert read_users(path)["chen"].institution_id == A
    with pytest.raises(InvalidUserError, match="without an institution"):
        check_new_user("chen", "institution_contact", "long enough")
    check_new_user("chen", "institution_contact", "long enough", A)


def test_the_contact_opens_the_quality_page_only() -> None:
    assert allowed("institution_contact", "quality")
    assert allowed("operator", "quality")  # part of the console
    for page in ("dashboard", "console", "catalog"):
        assert not allowed("institution_contact", page)
    assert not allowed("official", "quality") and not allowed("developer", "quality")


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "state": {}})


def test_scope_is_the_contacts_own_institution() -> None:
    contact = Session("t", "chen", "institution_contact", 0.0, 0.0, A)
    operator = Session("t", "li", "operator", 0.0, 0.0)
    assert scoped(_request(), contact, "") == A
    assert scoped(_request(), contact, A) == A
    with pytest.raises(HTTPException) as refused:
        scoped(_request(), contact, B)
    assert refused.value.status_code == 403 and refused.value.detail == NOT_YOURS
    assert B not in NOT_YOURS
    assert scoped(_request(), operator, B) == B and scoped(_request(), operator, "") == ""
    unbound = Session("t", "x", "institution_contact", 0.0, 0.0, None)
    with pytest.raises(HTTPException):
        scoped(_request(), unbound, "")
    assert shows_source_keys(operator) and not shows_source_keys(contact)


def test_users_add_binds_a_contact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAMHUB_CONFIG", raising=False)
    monkeypatch.setenv("STREAMHUB_DATA_DIR", str(tmp_path))
    args = ["add", "chen", "--role", "institution_contact"]
    unbound = CliRunner().invoke(users_group, args, input="pw-chen-123\n", obj={})
    assert unbound.exit_code != 0 and "without an institution" in unbound.output
    bound = CliRunner().invoke(
        users_group, [*args, "--institution", A], input="pw-chen-123\n", obj={}
    )
    assert bound.exit_code == 0, bound.output
    assert read_users(tmp_path / "web" / "users.yaml")["chen"].institution_id == A
