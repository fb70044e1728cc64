"""``streamhub topics``: the topic catalog, listed and applied to Kafka and the registry."""

from __future__ import annotations

import click
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.catalog.apply import apply_topics, register_schemas
from streamhub.catalog.errors import ApplyError
from streamhub.catalog.load import load_catalog, load_schema
from streamhub.cli.context import fails_cleanly, settings_from


@click.group("topics")
def topics_group() -> None:
    """The topic catalog in topics/*.yaml (names, partitions, retention, schema, security level)."""


@topics_group.command("list")
@click.pass_context
@fails_cleanly
def list_cmd(ctx: click.Context) -> None:
    """List the catalog's topics with their schema and GB/T 39725 security level."""
    settings = settings_from(ctx)
    specs = load_catalog(settings.project_dir / "topics")
    click.echo(f"{'topic':<24} {'parts':>5} {'level':>5}  {'schema':<32} owner")
    for s in specs:
        click.echo(
            f"{s.name:<24} {s.partitions:>5} {s.security_level:>5}  "
            f"{s.value_schema or s.value_format:<32} {s.owner}"
        )


@topics_group.command("apply")
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option("--no-schemas", is_flag=True, help="Skip registering value schemas.")
@click.pass_context
@fails_cleanly
def apply_cmd(ctx: click.Context, dry_run: bool, no_schemas: bool) -> None:
    """Create or update the catalog's topics and register their value schemas. Idempotent.

    Prints each change; a second run against an unchanged catalog prints "no change".
    Exits 1 on drift Kafka cannot fix (e.g. a topic with more partitions than the catalog).
    """
    settings = settings_from(ctx)
    specs = load_catalog(settings.project_dir / "topics")
    for spec in specs:  # fail before touching the cluster if any schema is broken
        if spec.value_schema is not None:
            load_schema(settings.project_dir / "avro_schemas", spec.value_schema)
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    click.echo(
        f"applying {len(specs)} topics to {settings.kafka_bootstrap}"
        + (" (dry run)" if dry_run else "")
    )
    topics = apply_topics(admin, specs, dry_run)
    changes = list(topics.changes)
    if not no_schemas:
        registry = SchemaRegistryClient({"url": settings.registry_url})
        schemas = register_schemas(registry, specs, settings.project_dir / "avro_schemas", dry_run)
        changes += schemas.changes
    for note in topics.notes:
        click.echo(f"note: {note}")
    for change in changes:
        click.echo(("would " if dry_run else "") + change)
    click.echo(f"{len(changes)} change(s)" if changes else "no change")
    if topics.drift:
        for drift in topics.drift:
            click.echo(f"drift: {drift}", err=True)
        raise ApplyError(
            f"{len(topics.drift)} topic(s) differ from the catalog in ways "
            "Kafka cannot change; see drift lines above"
        )
