"""Secrets of the local stack: taken from settings when given, otherwise generated once."""

from __future__ import annotations

import secrets as _random
from pathlib import Path

from streamhub.config import Settings
from streamhub.log import redact_secrets


def stack_secret(settings: Settings, name: str) -> str:
    """The secret ``name``; generated into ``<data_dir>/secrets/<name>`` (mode 600) if unset."""
    value = getattr(settings, name, None)  # a bench or tool secret has no setting of its own
    if value is not None:
        secret = str(value.get_secret_value())
        redact_secrets([secret])
        return secret
    path: Path = settings.secrets_dir / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        path.touch(mode=0o600)
        path.write_text(_random.token_urlsafe(24) + "\n")
    secret = path.read_text().strip()
    redact_secrets([secret])  # generated after the settings were read: scrub it from logs too
    return secret
