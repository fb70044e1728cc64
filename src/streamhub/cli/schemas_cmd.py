"""``streamhub schemas std|chart [--write | --check]``: the std.* Avro schemas from the
canonical model, and the Helm chart's values schema from the config models."""

from __future__ import annotations

from pathlib import Path

import click

from streamhub.cli.chart_schema import CHART_SCHEMA, render
from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.standardize.avro_schema import (
    schema_path,
    stale_std_schemas,
    std_schemas,
    write_std_schemas,
)


@click.group("schemas")
def schemas_group() -> None:
    """Schemas generated from code: the std.* Avro schemas, the chart's values schema."""


def _shown(path: Path, project_dir: Path) -> str:
    return str(path.relative_to(project_dir)) if path.is_relative_to(project_dir) else str(path)


@schemas_group.command("std")
@click.option("--write", "mode", flag_value="write", help="Rewrite avro_schemas/std/*.avsc.")
@click.option(
    "--check", "mode", flag_value="check", help="Exit 1 naming files that differ from the model."
)
@click.pass_context
@fails_cleanly
def std_cmd(ctx: click.Context, mode: str | None) -> None:
    """List, write or check avro_schemas/std/*.avsc against the canonical model.

    Without an option, print each entity's file and whether it is current. Run --write
    after changing standardize/model.py and commit the result; CI runs --check.
    """
    project_dir = settings_from(ctx).project_dir
    if mode == "write":
        for path in write_std_schemas(project_dir):
            click.echo(f"wrote {_shown(path, project_dir)}")
        return
    stale = set(stale_std_schemas(project_dir))
    for entity in std_schemas():
        path = schema_path(project_dir, entity)
        click.echo(f"{_shown(path, project_dir)}: {'stale' if path in stale else 'current'}")
    if mode == "check" and stale:
        names = ", ".join(sorted(_shown(p, project_dir) for p in stale))
        click.echo(
            f"error: stale std schemas: {names}; run `streamhub schemas std --write`", err=True
        )
        raise SystemExit(1)


@schemas_group.command("chart")
@click.option("--write", "mode", flag_value="write", help=f"Rewrite {CHART_SCHEMA}.")
@click.option("--check", "mode", flag_value="check", help="Exit 1 if the file differs.")
@click.pass_context
@fails_cleanly
def chart_cmd(ctx: click.Context, mode: str | None) -> None:
    """Print, write or check the Helm chart's values.schema.json, joined from the config
    models (connectors, lander, reconciler, anomaly detector, health thresholds)."""
    path = settings_from(ctx).project_dir / CHART_SCHEMA
    text = render()
    if mode == "write":
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {CHART_SCHEMA}")
    elif mode == "check":
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            click.echo(
                f"error: {CHART_SCHEMA} is stale; run `streamhub schemas chart --write`", err=True
            )
            raise SystemExit(1)
        click.echo(f"{CHART_SCHEMA}: current")
    else:
        click.echo(text, nl=False)
