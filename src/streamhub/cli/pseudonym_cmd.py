"""``streamhub pseudonym``: the person-linkage keyring (list, rotate, retire); never key values.

See docs/decisions/pseudonym-keys.md for what rotation changes and what it must not.
"""

from __future__ import annotations

import click

from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.errors import ConfigError


@click.group("pseudonym")
def pseudonym_group() -> None:
    """Pseudonym keys: which exist, which is active, rotate to a new one."""


@pseudonym_group.command("list")
@click.pass_context
@fails_cleanly
def list_cmd(ctx: click.Context) -> None:
    """Key ids, creation times and the active flag of the person-linkage keys, and the id of
    the identity key (record ids, internal ids). Key values are never shown."""
    from streamhub.standardize.pseudonym_keys import load_identity_key, load_ring, ring_path

    settings = settings_from(ctx)
    ring = load_ring(settings)
    source = ring_path(settings) if ring_path(settings).is_file() else "pseudonym_key (legacy)"
    click.echo(f"person-linkage keys ({source}):")
    for key in ring:
        flag = "active" if key is ring.active else ""
        click.echo(f"  {key.key_id:<8} {key.created or '-':<20} {flag}".rstrip())
    try:
        identity = load_identity_key(settings).key_id
    except ConfigError:  # shown, not fatal: the person keys are what this command is about
        identity = "missing (`streamhub stack up` generates pseudonym_identity_key)"
    click.echo(f"identity key: {identity} (not rotated by `pseudonym rotate`)")


@pseudonym_group.command("rotate")
@click.option(
    "--retire",
    "retire_id",
    metavar="KEY_ID",
    help="Instead of rotating, remove this (not active) key from the ring.",
)
@click.pass_context
@fails_cleanly
def rotate_cmd(ctx: click.Context, retire_id: str | None) -> None:
    """Add a new random person-linkage key and make it active (written owner-only to the
    secrets directory). Restart the standardizers to use it. Old keys stay in the ring."""
    from streamhub.standardize.pseudonym_keys import retire, ring_path, rotate

    settings = settings_from(ctx)
    if retire_id is not None:
        retire(settings, retire_id)
        click.echo(
            f"retired pseudonym key {retire_id} from {ring_path(settings)}; records "
            f"keyed with it can no longer be re-derived or linked to new ones"
        )
        return
    new = rotate(settings)
    click.echo(f"new active pseudonym key: {new.key_id} (in {ring_path(settings)}, mode 600)")
    click.echo(
        "restart every `streamhub standardize` process to use it; records standardized "
        "before keep the keys of their pseudonym_key_id. record_id, source_key and "
        "internal ids do not change (they use the identity key)."
    )
