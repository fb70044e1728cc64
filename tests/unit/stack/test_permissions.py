"""`.streamhub/` is owner-only: lock_down repairs it, new files are born so."""

import os
import stat
import subprocess
import sys
from pathlib import Path

from streamhub.stack import process
from streamhub.stack.permissions import exposed, lock_down


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_lock_down_makes_everything_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "kafka" / "data").mkdir(parents=True)
    (data / "logs").mkdir()
    segment = data / "kafka" / "data" / "00000.log"
    segment.write_text("raw personal data")
    segment.chmod(0o644)
    script = data / "kafka" / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (data / "logs" / "audit.jsonl").write_text("{}")
    (data / "logs" / "audit.jsonl").chmod(0o664)
    (data / "link").symlink_to("/etc/hostname")
    for d in (data, data / "kafka", data / "kafka" / "data", data / "logs"):
        d.chmod(0o755)
    assert exposed(data)

    assert lock_down(data) == 7  # 4 directories, 3 files
    assert exposed(data) == []
    assert _mode(data) == 0o700
    assert _mode(segment) == 0o600
    assert _mode(script) == 0o700  # the owner keeps the exec bit
    assert _mode(data / "kafka" / "data") == 0o700
    assert _mode(Path("/etc/hostname")) & 0o004  # a link's target is not touched
    assert lock_down(data) == 0  # idempotent


def test_data_dir_keeps_search_bit_for_a_service_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        return  # only root can give a directory to another user; checked where it matters
    data = tmp_path / "data"
    (data / "postgres").mkdir(parents=True)
    os.chown(data / "postgres", 65534, 65534)  # nobody: a database's own OS user
    lock_down(data)
    assert _mode(data) == 0o711
    assert _mode(data / "postgres") == 0o700
    assert exposed(data) == []


def test_spawned_services_and_the_cli_create_owner_only_files(tmp_path: Path) -> None:
    made = tmp_path / "made-by-service"
    pid = process.spawn(
        [sys.executable, "-c", f"open({str(made)!r}, 'w').write('x')"],
        tmp_path / "svc.log",
        tmp_path / "svc.pid",
    )
    os.waitpid(pid, 0)
    assert _mode(made) == 0o600
    assert _mode(tmp_path / "svc.log") in (0o600, 0o644)  # opened by the caller
    code = (
        "import os, sys; from streamhub.cli import main as m; "
        "m.cli = lambda **k: open(sys.argv[1], 'w').close(); m.main()"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "by-cli")], check=True)
    assert _mode(tmp_path / "by-cli") == 0o600
