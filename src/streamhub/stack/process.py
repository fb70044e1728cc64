"""Process plumbing for local services: spawn detached, pid files, readiness, stop."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.log import get_logger
from streamhub.stack.errors import MissingSoftwareError, StackError
from streamhub.stack.permissions import OWNER_ONLY_UMASK

SYSTEM_UMASK = 0o022  # what package managers install must stay readable by every user

log = get_logger(__name__)


def is_root() -> bool:
    return os.geteuid() == 0


def as_user(user: str | None) -> list[str]:
    """Command prefix that runs as ``user`` when we are root (databases refuse root)."""
    if user and is_root():
        return ["runuser", "-u", user, "--"]
    return []


def chown_tree(path: Path, user: str | None) -> None:
    if user and is_root():
        entry = pwd.getpwnam(user)
        for root, dirs, files in os.walk(path):
            os.chown(root, entry.pw_uid, entry.pw_gid)
            for name in dirs + files:
                with contextlib.suppress(FileNotFoundError):
                    os.lchown(Path(root) / name, entry.pw_uid, entry.pw_gid)


def ensure_traversable(path: Path, user: str | None) -> None:
    """Let a service user reach its data dir: add search (x) permission on ancestors lacking it."""
    if not (user and is_root()):
        return
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            log.info("granting traverse permission", extra={"path": str(parent), "for": user})
            parent.chmod(mode | 0o001)


def run(
    cmd: Sequence[str],
    what: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    umask: int = OWNER_ONLY_UMASK,
) -> str:
    """Run a command to completion; raise StackError with its output when it fails.

    What it creates is owner-only (``umask``), except where the caller says otherwise
    (package installs: system files must stay readable by every user).
    """
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if env is None else {**os.environ, **env},
            check=False,
            umask=umask,
        )
    except FileNotFoundError as exc:
        raise MissingSoftwareError(f"{what}: {cmd[0]} not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{what}: `{' '.join(cmd)}` did not finish in {timeout:.0f}s") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise StackError(f"{what} failed (exit {done.returncode}): {tail}")
    return done.stdout


def apt_install(packages: Sequence[str], what: str) -> None:
    """Install Debian packages when root; otherwise say exactly what to install."""
    if not is_root() or shutil.which("apt-get") is None:
        raise MissingSoftwareError(
            f"{what} is not installed; install it with: "
            f"sudo apt-get install -y {' '.join(packages)}"
        )
    log.info("installing packages", extra={"packages": list(packages)})
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
            what,
            env,
            umask=SYSTEM_UMASK,
        )
    except StackError:  # a stale package list is the usual cause on a fresh machine
        run(["apt-get", "update", "-q"], "apt-get update", env, umask=SYSTEM_UMASK)
        run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
            what,
            env,
            umask=SYSTEM_UMASK,
        )


def spawn(
    cmd: Sequence[str], log_file: Path, pid_file: Path, env: Mapping[str, str] | None = None
) -> int:
    """Start a detached process (own session, survives the CLI) and record its pid.

    It runs with umask 077: its data and logs are owner-only from the first byte.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
            env=None if env is None else {**os.environ, **env},
            umask=OWNER_ONLY_UMASK,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours still answers kill(0); treat it as gone
    with contextlib.suppress(ChildProcessError):
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished:
            return False
    return True


def terminate(pid: int, what: str, grace_s: float = 30.0, clock: Clock = SYSTEM_CLOCK) -> None:
    """SIGTERM, wait for a clean shutdown, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = clock.monotonic() + grace_s
    while clock.monotonic() < deadline:
        if not alive(pid):
            return
        clock.sleep(0.2)
    log.warning("service did not stop in time; killing", extra={"service": what, "pid": pid})
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    what: str,
    timeout_s: float,
    log_file: Path | None,
    pid: int | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """Poll ``check`` until true; fail early if the process died, with its log tail."""
    deadline = clock.monotonic() + timeout_s
    while clock.monotonic() < deadline:
        if check():
            return
        if pid is not None and not alive(pid):
            raise StackError(f"{what} exited during start-up.{_tail(log_file)}")
        clock.sleep(0.25)
    raise StackError(f"{what} not ready after {timeout_s:.0f}s.{_tail(log_file)}")


def _tail(log_file: Path | None, lines: int = 15) -> str:
    if log_file is None or not log_file.exists():
        return ""
    text = log_file.read_text(errors="replace").splitlines()[-lines:]
    return f" Last lines of {log_file}:\n" + "\n".join(text)
