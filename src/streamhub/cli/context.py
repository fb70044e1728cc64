"""Shared CLI plumbing: settings loaded once, errors turned into one line and an exit code."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from streamhub import log as logs
from streamhub.config import CONFIG_ENV, Settings, load_settings
from streamhub.errors import StreamhubError

F = TypeVar("F", bound=Callable[..., Any])


def settings_from(ctx: click.Context) -> Settings:
    """Load settings on first use, so ``--help`` works even with a broken configuration."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        config: Path | None = obj.get("config")
        if config is not None:
            os.environ[CONFIG_ENV] = str(config)
        obj["settings"] = load_settings()
        # safety net: no log line of this process may carry a secret value
        logs.redact_secrets(obj["settings"].secret_values())
    settings: Settings = obj["settings"]
    return settings


def fails_cleanly(func: F) -> F:
    """Print a StreamhubError as ``error: ...`` and exit with its code, without a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StreamhubError as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(exc.exit_code) from exc

    return wrapper  # type: ignore[return-value]
