"""`streamhub demo`: the whole pipeline on simulated institutions, with a live summary."""

from __future__ import annotations

import signal
from types import FrameType

import click

from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.cli.simulate_cmd import ENGINE_DIALECTS, parse_duration, parse_start
from streamhub.demo.run import DemoOptions, run_demo
from streamhub.secrets_mask import mask_url
from streamhub.simulate.bad_records import BAD_KINDS
from streamhub.simulate.faults import parse_fault
from streamhub.simulate.runner import SimulationOptions


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command("demo")
@click.option("--hospitals", type=click.IntRange(0, 500), default=2, show_default=True)
@click.option("--clinics", type=click.IntRange(0, 5000), default=2, show_default=True)
@click.option(
    "--rate",
    type=click.FloatRange(1),
    default=300.0,
    show_default=True,
    help="Mean changes per second over the day.",
)
@click.option("--duration", default="60s", show_default=True, help="Simulated run: 60s, 10m …")
@click.option(
    "--start",
    default="today",
    show_default=True,
    help="Business start time (today = 07:30 today, Asia/Shanghai).",
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--bad-fraction",
    type=click.FloatRange(0, 0.5),
    default=0.01,
    show_default=True,
    help=f"Share of planted bad records ({', '.join(BAD_KINDS)}).",
)
@click.option("--fault", "fault_specs", multiple=True, help="Simulator fault, as for simulate.")
@click.option(
    "--every",
    type=click.FloatRange(1),
    default=5.0,
    show_default=True,
    help="Seconds between summaries.",
)
@click.option(
    "--until-stopped",
    is_flag=True,
    help="Keep the pipeline and the summary running after the simulation (Ctrl-C).",
)
@click.option(
    "--db-prefix",
    default="sim",
    show_default=True,
    help="Prefix of the simulated databases; another prefix also gives the run its own "
    "consumer groups, so it leaves the default demo's state alone.",
)
@click.option(
    "--port-offset",
    type=click.IntRange(0, 20000),
    default=0,
    show_default=True,
    help="Added to every worker port (metrics 39101-39105, query 39106, web 38080).",
)
@click.pass_context
@fails_cleanly
def demo_cmd(
    ctx: click.Context,
    hospitals: int,
    clinics: int,
    rate: float,
    duration: str,
    start: str,
    seed: int,
    bad_fraction: float,
    fault_specs: tuple[str, ...],
    every: float,
    until_stopped: bool,
    db_prefix: str,
    port_offset: int,
) -> None:
    """Simulated hospitals and clinics -> capture -> Kafka -> standardize -> ClickHouse.

    Prints, per institution, the changes captured, standardized (flagged: with quality
    issues), rejected to dlq.standardize and landed, and the landing freshness (now minus
    the commit time of the newest landed change), until everything has landed.
    """
    settings = settings_from(ctx)
    # SIGTERM ends the demo like Ctrl-C: the child workers are stopped on the way out
    signal.signal(signal.SIGTERM, _interrupt)
    simulation = SimulationOptions(
        start=parse_start(start),
        seed=seed,
        hospitals=hospitals,
        clinics=clinics,
        dialects=ENGINE_DIALECTS["both"],
        rate=rate,
        duration_s=parse_duration(duration),
        bad_fraction=bad_fraction,
        faults=tuple(parse_fault(spec) for spec in fault_specs),
        db_prefix=db_prefix,
    )
    options = DemoOptions(every_s=every, until_stopped=until_stopped, port_offset=port_offset)
    summary = run_demo(settings, simulation, options, lambda text: click.echo(text, err=True))
    totals = summary.rows.values()
    click.echo(
        f"demo: {sum(r.captured for r in totals):,.0f} changes captured, "
        f"{sum(r.standardized for r in totals):,.0f} standardized "
        f"({sum(r.flagged for r in totals):,.0f} flagged), "
        f"{sum(r.rejected for r in totals):,.0f} dead-lettered, "
        f"{sum(r.landed for r in totals):,.0f} landed in ClickHouse "
        f"({mask_url(settings.clickhouse_dsn)}); "
        "query with `streamhub clickhouse query`"
    )
