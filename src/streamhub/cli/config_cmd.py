"""``streamhub config``: show the effective settings (secrets masked)."""

from __future__ import annotations

import json

import click

from streamhub.cli.context import fails_cleanly, settings_from


@click.group("config")
def config_group() -> None:
    """Inspect the effective configuration."""


@config_group.command("show")
@click.pass_context
@fails_cleanly
def show(ctx: click.Context) -> None:
    """Print the settings in effect as JSON, secrets masked. Fails on invalid settings."""
    click.echo(json.dumps(settings_from(ctx).masked(), indent=2, ensure_ascii=False))
