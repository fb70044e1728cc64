"""Entry point: ``streamhub [--config FILE] COMMAND``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from streamhub import __version__
from streamhub import log as logs
from streamhub.cli.anomaly_cmd import anomaly_group
from streamhub.cli.capture_cmd import capture_group, connectors_group
from streamhub.cli.clickhouse_cmd import clickhouse_group
from streamhub.cli.config_cmd import config_group
from streamhub.cli.connectors_cmd import apply_cmd as connectors_apply_cmd
from streamhub.cli.connectors_cmd import render_cmd as connectors_render_cmd
from streamhub.cli.debezium_cmd import debezium_group
from streamhub.cli.demo_cmd import demo_cmd
from streamhub.cli.health_cmd import health_cmd
from streamhub.cli.land_cmd import land_cmd
from streamhub.cli.profiles_cmd import profiles_group
from streamhub.cli.pseudonym_cmd import pseudonym_group
from streamhub.cli.quality_cmd import quality_group
from streamhub.cli.reconcile_cmd import reconcile_group
from streamhub.cli.registry_cmd import registry_group
from streamhub.cli.schemas_cmd import schemas_group
from streamhub.cli.serve_cmd import serve_cmd, users_group
from streamhub.cli.simulate_cmd import simulate_group
from streamhub.cli.stack_cmd import stack_group
from streamhub.cli.standardize_cmd import standardize_cmd
from streamhub.cli.topics_cmd import topics_group
from streamhub.stack.permissions import OWNER_ONLY_UMASK


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML settings file (also STREAMHUB_CONFIG); environment variables win.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Level of the JSON log on stderr.",
)
@click.version_option(__version__, prog_name="streamhub")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, log_level: str) -> None:
    """streamhub: real-time integration hub for regional health data.

    Captures changes from institutions' databases, carries them through Kafka,
    standardizes them and lands them in ClickHouse. Settings come from
    STREAMHUB_* environment variables or --config; see `streamhub config show`.
    """
    ctx.ensure_object(dict)["config"] = config
    logs.configure(log_level)


cli.add_command(stack_group)
cli.add_command(topics_group)
cli.add_command(registry_group)
cli.add_command(config_group)
cli.add_command(simulate_group)
cli.add_command(capture_group)
cli.add_command(connectors_group)
connectors_group.add_command(connectors_render_cmd)  # Debezium connector files
connectors_group.add_command(connectors_apply_cmd)
cli.add_command(debezium_group)
cli.add_command(clickhouse_group)
cli.add_command(land_cmd)
cli.add_command(schemas_group)
cli.add_command(standardize_cmd)
cli.add_command(health_cmd)
cli.add_command(demo_cmd)
cli.add_command(anomaly_group)
cli.add_command(reconcile_group)
cli.add_command(serve_cmd)
cli.add_command(users_group)
cli.add_command(pseudonym_group)
cli.add_command(profiles_group)
cli.add_command(quality_group)


def main() -> None:
    # everything streamhub writes (.streamhub/: Kafka data with personal data, chDB, logs,
    # audit trail, secrets) is owner-only; child processes inherit this
    os.umask(OWNER_ONLY_UMASK)
    cli(prog_name="streamhub")
