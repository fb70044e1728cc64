"""The demo's sign-ins: one user per role, passwords generated into the stack's secrets."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from streamhub.config import Settings
from streamhub.log import redact_secrets

DEMO_ROLES = ("official", "operator", "developer")


def ensure_demo_users(settings: Settings, run_once: Callable[..., str]) -> str:
    """Create the demo users unless a users file exists; a line saying how to sign in."""
    users = settings.web_users_path
    if users.exists():
        return f"web users: {users} (kept as it is)"
    created = []
    for role in DEMO_ROLES:
        password = _password_file(settings.secrets_dir / f"web_{role}_password")
        run_once("users", "add", role, "--role", role, "--password-file", str(password))
        created.append(f"{role} (password in {password})")
    return "web users created: " + ", ".join(created)


def _password_file(path: Path) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(12) + "\n")
    redact_secrets([path.read_text().strip()])  # created after this process read its secrets
    return path
