"""``streamhub connectors render|apply``: connector files captured by Debezium on Kafka Connect."""

from __future__ import annotations

import json
from pathlib import Path

import click

from streamhub.capture.connector import ConnectorConfig, load_connectors
from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.config import Settings
from streamhub.debezium.connect_api import ConnectClient
from streamhub.debezium.errors import ConnectValidationError, RenderError
from streamhub.debezium.render import password_key, render, stack_secrets_file
from streamhub.secrets_mask import mask_url
from streamhub.stack.connect import update_secrets_file

connectors_dir_option = click.option(
    "--connectors-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory of connector files [default: <project>/connectors].",
)
secrets_file_option = click.option(
    "--secrets-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The worker's secrets file its FileConfigProvider reads "
    "[default: the stack worker's, <data_dir>/connect/secrets/connect-secrets.properties].",
)


def _debezium_connectors(
    settings: Settings, directory: Path | None, names: tuple[str, ...], every: bool
) -> list[ConnectorConfig]:
    if bool(names) == every:
        raise click.UsageError("name connectors or give --all (not both)")
    found = load_connectors(directory or settings.connectors_path, list(names) or None)
    streamhub_named = [c.name for c in found if not c.by_debezium and names]
    if streamhub_named:
        raise RenderError(
            f"connector(s) {', '.join(streamhub_named)} are captured by streamhub's agent "
            "(capture_engine: streamhub); render and apply take capture_engine: debezium ones"
        )
    chosen = [c for c in found if c.by_debezium]
    if not chosen:
        where = directory or settings.connectors_path
        raise click.UsageError(f"no capture_engine: debezium connector files in {where}")
    return chosen


@click.command("render")
@click.argument("names", nargs=-1, metavar="NAME...")
@click.option("--all", "every", is_flag=True, help="Every Debezium connector file.")
@connectors_dir_option
@secrets_file_option
@click.pass_context
@fails_cleanly
def render_cmd(
    ctx: click.Context,
    names: tuple[str, ...],
    every: bool,
    connectors_dir: Path | None,
    secrets_file: Path | None,
) -> None:
    """Print the Kafka Connect config of Debezium connector files, as JSON.

    One object per connector: {"name": ..., "config": {...}}, the body `apply` sends. The
    password is a reference to the worker's secrets file, never its value.
    """
    settings = settings_from(ctx)
    rendered = [
        {"name": c.name, "config": render(c, settings, secrets_file)}
        for c in _debezium_connectors(settings, connectors_dir, names, every)
    ]
    document = rendered[0] if len(rendered) == 1 else rendered
    click.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))


@click.command("apply")
@click.argument("names", nargs=-1, metavar="NAME...")
@click.option("--all", "every", is_flag=True, help="Every Debezium connector file.")
@connectors_dir_option
@secrets_file_option
@click.option(
    "--write-secrets/--no-write-secrets",
    default=True,
    show_default=True,
    help="Write each connector's password into the secrets file (owner-only) first; "
    "--no-write-secrets when the worker runs elsewhere and its file is provisioned there.",
)
@click.pass_context
@fails_cleanly
def apply_cmd(
    ctx: click.Context,
    names: tuple[str, ...],
    every: bool,
    connectors_dir: Path | None,
    secrets_file: Path | None,
    write_secrets: bool,
) -> None:
    """Create or update Debezium connectors through Kafka Connect's REST API.

    Each config is validated by its connector plugin first: a refused one is reported by
    field and not applied; exits 1 if any was refused.
    """
    settings = settings_from(ctx)
    chosen = _debezium_connectors(settings, connectors_dir, names, every)
    client = ConnectClient(settings.connect_url)
    target = secrets_file or stack_secrets_file(settings)
    refused = 0
    for config in chosen:
        rendered = render(config, settings, target)
        if write_secrets:
            update_secrets_file(target, {password_key(config): config.password(settings)})
        try:
            outcome = client.apply(config.name, rendered)
        except ConnectValidationError as exc:
            refused += 1
            click.echo(f"{config.name}: refused by Kafka Connect", err=True)
            for field, messages in sorted(exc.errors.items()):
                for message in messages:
                    click.echo(f"  {field}: {message}", err=True)
            continue
        click.echo(f"{config.name}: {outcome} on {mask_url(settings.connect_url)}")
    if refused:
        raise SystemExit(1)
