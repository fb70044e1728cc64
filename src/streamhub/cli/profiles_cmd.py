"""``streamhub profiles``: mapping profiles (connectors/profiles/) against live sources."""

from __future__ import annotations

from pathlib import Path

import click

from streamhub.cli.context import fails_cleanly, settings_from


@click.group("profiles")
def profiles_group() -> None:
    """Mapping profiles: validate them against the sources they map."""


@profiles_group.command("check")
@click.option(
    "--connector",
    "names",
    multiple=True,
    required=True,
    metavar="NAME",
    help="Connector whose source and profile to check (repeatable).",
)
@click.option(
    "--connectors-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory of connector files [default: <project>/connectors].",
)
@click.option(
    "--profiles-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory of profile files [default: <project>/connectors/profiles].",
)
@click.option(
    "--sample",
    "sample_limit",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="Distinct values read per crosswalked column.",
)
@click.pass_context
@fails_cleanly
def check_cmd(
    ctx: click.Context,
    names: tuple[str, ...],
    connectors_dir: Path | None,
    profiles_dir: Path | None,
    sample_limit: int,
) -> None:
    """Compare each connector's profile with the live source: unknown `from:` columns,
    columns neither mapped nor ignored, required fields without a source, personal
    identifiers the pseudonymizer cannot use, crosswalk keys never seen in a sample.
    Prints ERROR and WARN lines per table; exits 1 if there is any ERROR."""
    from streamhub.capture.connector import load_connectors
    from streamhub.standardize.profile import load_profiles
    from streamhub.standardize.profile_check import check_profile
    from streamhub.standardize.source_schema import LiveSource

    settings = settings_from(ctx)
    directory = connectors_dir or settings.connectors_path
    connectors = {c.name: c for c in load_connectors(directory, list(names))}
    profiles = load_profiles(profiles_dir or settings.profiles_path)
    errors = 0
    for name in names:
        config = connectors[name]
        profile = profiles.get(config.profile)
        if profile is None:
            raise click.UsageError(
                f"connector {name} names profile {config.profile!r}, which is not among "
                f"{', '.join(sorted(profiles)) or 'no profiles'}"
            )
        with LiveSource(config, config.password(settings)) as source:
            findings = check_profile(profile, source.columns(), source.sample, sample_limit)
        bad = sum(f.severity == "error" for f in findings)
        errors += bad
        warned = len(findings) - bad
        click.echo(
            f"{name} (profile {profile.ref}, {len(config.tables)} tables): "
            f"{bad} error(s), {warned} warning(s)"
        )
        for f in findings:
            mark = "ERROR" if f.severity == "error" else "WARN "
            click.echo(f"  {mark} {f.table}  {f.kind}: {f.message}")
    if errors:
        raise SystemExit(1)
