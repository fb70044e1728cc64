"""``streamhub registry serve``: the Confluent-compatible schema registry."""

from __future__ import annotations

from urllib.parse import urlparse

import click

from streamhub import log as logs
from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.registry.server import serve
from streamhub.registry.store import KafkaLog, RegistryStore


@click.group("registry")
def registry_group() -> None:
    """The schema registry (Confluent REST subset, stored in a compacted Kafka topic)."""


@registry_group.command("serve")
@click.option("--host", default=None, help="Listen address (default: from STREAMHUB_REGISTRY_URL).")
@click.option("--port", type=int, default=None, help="Listen port (default: from the URL).")
@click.pass_context
@fails_cleanly
def serve_cmd(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the registry in the foreground until interrupted.

    `streamhub stack up` runs this in the background; run it yourself to debug.
    """
    settings = settings_from(ctx)
    logs.configure(settings.log_level)
    url = urlparse(settings.registry_url)
    store = RegistryStore(KafkaLog(settings.kafka_bootstrap, settings.registry_topic))
    store.load()
    serve(store, host or url.hostname or "127.0.0.1", port or url.port or 8081)
