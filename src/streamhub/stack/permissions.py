"""Owner-only permissions for the local state under ``<data_dir>`` (``.streamhub/``).

It holds Kafka segments with raw personal data, the embedded ClickHouse, logs, the audit
trail, the simulator's ledger, the web users and the secrets: nobody but the owner may
read it. Processes streamhub starts run with umask 077 (:data:`OWNER_ONLY_UMASK`), so
what they create is owner-only; :func:`lock_down` repairs what exists (data written
before, or by a tool that set its own mode) on every ``streamhub stack up``.

When streamhub runs as root, PostgreSQL and MariaDB run as their own OS users
(``postgres``, ``mysql``) and own their directories: owner-only then means that user.
They must still reach those directories through ``<data_dir>``, so ``<data_dir>`` itself
keeps the search bit for others (0711: no listing, no reading) in that case only.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

OWNER_ONLY_UMASK = 0o077
DIR_MODE = 0o700
TRAVERSE_ONLY_MODE = 0o711  # a service user must pass through to its own directory


def lock_down(data_dir: Path) -> int:
    """Make ``data_dir`` and everything under it owner-only; the number of modes changed.

    Directories become 0700, files lose every group/other bit (the owner's keep theirs).
    Symbolic links are not followed; sockets and FIFOs are left alone (they sit in
    owner-only directories). ``data_dir`` itself is 0711 when an entry directly under it
    belongs to another user (a database's OS user), 0700 otherwise.
    """
    changed = 0
    root = data_dir.resolve()
    owner = root.lstat().st_uid
    foreign = False
    for current, dirs, files in os.walk(root):
        here = Path(current)
        for name in dirs + files:
            path = here / name
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue  # a service removed it meanwhile
            if here == root and info.st_uid != owner:
                foreign = True
            if stat.S_ISDIR(info.st_mode):
                changed += _chmod(path, info.st_mode, DIR_MODE)
            elif stat.S_ISREG(info.st_mode):
                changed += _chmod(path, info.st_mode, stat.S_IMODE(info.st_mode) & 0o700)
    mode = TRAVERSE_ONLY_MODE if foreign else DIR_MODE
    changed += _chmod(root, root.lstat().st_mode, mode)
    return changed


def _chmod(path: Path, current: int, wanted: int) -> int:
    if stat.S_IMODE(current) == wanted:
        return 0
    with contextlib.suppress(FileNotFoundError):
        path.chmod(wanted)
    return 1


def exposed(data_dir: Path) -> list[str]:
    """Paths under ``data_dir`` that others may read or write (``lock_down``'s check).

    ``data_dir``'s own search bit for a service user is allowed (see the module text).
    """
    root = data_dir.resolve()
    found = []
    root_mode = stat.S_IMODE(root.lstat().st_mode)
    if root_mode & 0o066:
        found.append(f"{root} {oct(root_mode)}")
    for current, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(current) / name
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
                continue
            if stat.S_IMODE(info.st_mode) & 0o077:
                found.append(f"{path} {oct(stat.S_IMODE(info.st_mode))}")
    return found
