"""A MariaDB the stack starts writes owner-only files from the first byte (mariadbd sets its
own file modes, 0660 by default, whatever the umask)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from streamhub.config import load_settings
from streamhub.stack.mariadb import MariaDB
from streamhub.stack.permissions import exposed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_fresh_mariadb_is_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    settings = load_settings(
        data_dir=data, mariadb_port=_free_port(), mariadb_password="owner-only-test-password"
    )
    server = MariaDB(settings)
    previous = os.umask(0o077)  # as `streamhub` runs (cli.main)
    try:
        assert "started" in server.up()
        found = exposed(data)
    finally:
        os.umask(previous)
        server.down()
    assert found == []
