"""Password hashes, the users file and the role map."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from streamhub.web.auth import (
    ROLE_PAGES,
    User,
    UserStore,
    allowed,
    check_new_user,
    hash_password,
    read_users,
    verify_password,
    write_users,
)
from streamhub.web.errors import InvalidUserError, UsersFileError

FAST = 1_000  # iterations: the format is what is tested here, not the cost


def test_hash_round_trip_and_format() -> None:
    stored = hash_password("correct horse", iterations=FAST)
    scheme, iterations, salt, digest = stored.split("$")
    assert (scheme, iterations) == ("pbkdf2_sha256", str(FAST))
    assert salt and digest
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)


def test_salts_differ_and_malformed_hashes_match_nothing() -> None:
    assert hash_password("same", iterations=FAST) != hash_password("same", iterations=FAST)
    for bad in ("", "plain", "md5$1$a$b", "pbkdf2_sha256$x$a$b", "pbkdf2_sha256$10$!!$??"):
        assert not verify_password("anything", bad)


def test_role_map_is_the_contract() -> None:
    assert ROLE_PAGES == {
        "official": ("dashboard",),
        "operator": ("dashboard", "console"),
        "developer": ("catalog",),
        "institution_contact": ("quality",),
    }
    assert allowed("operator", "console")
    assert not allowed("official", "console")
    assert not allowed("developer", "dashboard")
    assert not allowed("operator", "catalog")
    assert not allowed("nobody", "dashboard")


@pytest.mark.parametrize(
    ("name", "role", "password", "complaint"),
    [
        ("wang", "official", "short", "at least 8"),
        ("wang", "admin", "long enough", "expected one of"),
        ("王 五", "official", "long enough", "user name"),
    ],
)
def test_new_users_are_checked(name: str, role: str, password: str, complaint: str) -> None:
    with pytest.raises(InvalidUserError, match=complaint):
        check_new_user(name, role, password)


def test_users_file_written_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "web" / "users.yaml"
    users = {"wang": User("wang", "official", hash_password("secret-pw", iterations=FAST))}
    write_users(path, users)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_users(path) == users


def test_store_rereads_a_changed_file_and_authenticates(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    store = UserStore(path)
    assert store.users() == {}
    write_users(path, {"li": User("li", "operator", hash_password("pw-li-123", iterations=FAST))})
    assert store.authenticate("li", "pw-li-123") == store.users()["li"]
    assert store.authenticate("li", "wrong-pass") is None
    assert store.authenticate("nobody", "pw-li-123") is None


def test_bad_users_file_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  - {name: x, role: admin, password_hash: h}\n")
    with pytest.raises(UsersFileError, match="role 'admin'"):
        read_users(path)
    path.write_text("users: 3\n")
    with pytest.raises(UsersFileError, match="'users:' list"):
        read_users(path)
