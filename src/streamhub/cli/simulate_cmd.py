"""``streamhub simulate``: simulated institutions writing a hospital day into the local stack.

``streamhub simulate fleet`` (a stable interface: bench/region.py drives it) plays N
institutions' capture agents without databases::

    streamhub simulate fleet --institutions N --seed S --start 2026-03-02T08:00
        --duration 20m --day-minutes 20 --peak-rate 1500 [--flat] [--no-warm-up]
        [--fault outage:h0001@30s+20s ...] [--ledger PATH] [--connectors-out DIR] [--unpaced]

It writes one connector file per fleet connector into ``--connectors-out`` (default
``<data_dir>/sim/fleet/connectors``; give the centre's processes
``STREAMHUB_CONNECTORS_DIR`` pointing there, or at ``<data_dir>/sim`` to include the
database-backed simulator's connectors too), then emits; progress lines go to stderr,
the summary (changes per table, CPU per 10,000 changes, faults, ledger path) to stdout;
exit 0, or 1 with ``error: ...`` on failure. The ledger (JSON, default
``<data_dir>/sim/fleet/ledger.json``) holds per institution, table and commit minute the
changes sent (``minutes``: [institution_id, database.table, minute_ms, c, u, d]), totals per
table, live rows per table at the end, held (never sent) changes, and the faults.
``streamhub simulate fleet-fault SPEC`` sends a fault to the running fleet.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from streamhub.capture.alongside import CaptureAlongside
from streamhub.capture.connector import load_connector, load_connectors
from streamhub.cli.context import fails_cleanly, settings_from
from streamhub.config import Settings
from streamhub.fleet.connectors import write_connector_files
from streamhub.fleet.faults import FleetControl
from streamhub.fleet.faults import parse_fault as parse_fleet_fault
from streamhub.fleet.pacing import Pacing
from streamhub.fleet.run import Fleet, FleetOptions, FleetProgress, FleetReport
from streamhub.simulate import dialect as dialects
from streamhub.simulate.bad_records import BAD_KINDS, parse_kinds
from streamhub.simulate.connectors import connector_documents, write_connectors
from streamhub.simulate.faults import ControlDirectory, parse_fault
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Progress, RunReport, Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases, verify_ledger

SHANGHAI = ZoneInfo("Asia/Shanghai")
ENGINE_DIALECTS: dict[str, tuple[str, ...]] = {
    "postgres": ("english_pg",),
    "mariadb": ("pinyin_gbk",),
    "both": ("english_pg", "pinyin_gbk"),
}


def sim_dir(settings: Settings) -> Path:
    return settings.data_dir / "sim"


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r}: write seconds, or a number with s, m or h (e.g. 10m)")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


def parse_start(text: str) -> datetime:
    """``today`` (08:00), ``now``, or an ISO date/time, as naive Asia/Shanghai business time."""
    local_now = datetime.now(SHANGHAI).replace(tzinfo=None)
    if text == "now":
        return local_now.replace(microsecond=0)
    if text == "today":
        return datetime.combine(local_now.date(), time(8, 0))
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: use today, now or e.g. 2026-03-02T08:00") from exc


def _show_progress(progress: Progress) -> None:
    rate = progress.written / progress.wall_s if progress.wall_s > 0 else 0.0
    click.echo(
        f"[{progress.wall_s:7.1f}s] business time {progress.sim_time:%Y-%m-%d %H:%M}  "
        f"{progress.written:>10,} changes  {rate:>8,.0f}/s  behind {progress.behind_s:.1f}s",
        err=True,
    )


def _summary(report: RunReport, setup_s: float) -> None:
    click.echo(f"{'key':<4} {'institution id':<18} {'engine':<8} {'dialect':<11} name")
    for inst in report.institutions:
        click.echo(
            f"{inst.key:<4} {inst.credit_code:<18} {inst.engine:<8} {inst.dialect:<11} {inst.name}"
        )
    click.echo(
        f"set-up wrote {report.seeded:,} changes (initial state and warm-up) in {setup_s:.1f}s; "
        f"the run wrote {report.written:,} changes in {report.wall_s:.1f}s "
        f"({report.rate:,.0f}/s), at most {report.max_behind_s:.1f}s behind schedule"
    )
    if report.faults:
        click.echo(f"faults applied: {', '.join(report.faults)}")
    click.echo(
        f"business time reached {report.sim_end:%Y-%m-%d %H:%M}; ledger {report.ledger_path}"
    )


@click.group("simulate", invoke_without_command=True)
@click.option("--hospitals", type=click.IntRange(0, 99), default=2, show_default=True)
@click.option(
    "--clinics",
    type=click.IntRange(0, 99),
    default=2,
    show_default=True,
    help="Primary-care institutions (community health centres): HIS, EMR and LIS only.",
)
@click.option(
    "--engine",
    type=click.Choice(["postgres", "mariadb", "both"]),
    default="both",
    show_default=True,
    help="Database engine of the institutions (both: alternate).",
)
@click.option(
    "--dialect",
    "dialect_names",
    multiple=True,
    metavar="NAME",
    help="Vendor dialect(s) to assign round-robin instead of --engine "
    "(see `streamhub simulate dialects`); a path to a YAML file works too.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    default=1000.0,
    show_default=True,
    help="Target row changes per second across all institutions (daily mean).",
)
@click.option(
    "--duration",
    default="60s",
    show_default=True,
    help="Wall-clock length of the run, e.g. 90s or 10m.",
)
@click.option(
    "--compression",
    type=click.FloatRange(min=0.01),
    default=144.0,
    show_default=True,
    help="Simulated seconds per wall second (144: a day in 10 min).",
)
@click.option(
    "--start",
    default="today",
    show_default=True,
    help="Business time the run starts at: today (08:00), now, or ISO like "
    "2026-03-02T08:00. Pass it explicitly for a reproducible run.",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Same seed and options, same data and ledger.",
)
@click.option("--flat", is_flag=True, help="No day curve: a constant rate (benchmarks).")
@click.option(
    "--no-warm-up",
    is_flag=True,
    help="Start from an empty day instead of writing the preceding hours first.",
)
@click.option(
    "--bad-fraction",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of eligible records planted bad (opt-in).",
)
@click.option(
    "--bad-kinds",
    default="all",
    show_default=True,
    help=f"Comma-separated subset of: {', '.join(BAD_KINDS)}.",
)
@click.option(
    "--fault",
    "fault_specs",
    multiple=True,
    metavar="SPEC",
    help="Scheduled fault, e.g. outage:h01@30s+20s, burst:c01@45s,rows=3000, "
    "alter:h02@50s,entity=patient (repeatable).",
)
@click.option(
    "--db-prefix",
    default="sim",
    show_default=True,
    help="Databases are named PREFIX_<institution>_<system>; re-created on each run.",
)
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ground-truth ledger file [default: <data_dir>/sim/ledger.json].",
)
@click.option(
    "--unpaced",
    is_flag=True,
    help="Write as fast as the databases accept (throughput measurement).",
)
@click.option(
    "--capture",
    is_flag=True,
    help="Also run the capture agent on the generated connectors (the demo's pipeline).",
)
@click.pass_context
@fails_cleanly
def simulate_group(
    ctx: click.Context,
    hospitals: int,
    clinics: int,
    engine: str,
    dialect_names: tuple[str, ...],
    rate: float,
    duration: str,
    compression: float,
    start: str,
    seed: int,
    flat: bool,
    no_warm_up: bool,
    bad_fraction: float,
    bad_kinds: str,
    fault_specs: tuple[str, ...],
    db_prefix: str,
    ledger_path: Path | None,
    unpaced: bool,
    capture: bool,
) -> None:
    """Simulated hospitals and clinics writing their day into PostgreSQL and MariaDB.

    Without a sub-command, runs the simulation: re-creates each institution's
    databases, writes its initial state, then a paced, day-shaped workload
    (registrations, visits, diagnoses, prescriptions, charges, lab and exam
    reports, admissions and discharges, with corrections, cancellations and
    refunds). Writes a ground-truth ledger for tests and benchmarks.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_from(ctx)
    try:
        kinds = parse_kinds(bad_kinds)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bad-kinds") from exc
    options = SimulationOptions(
        start=parse_start(start),
        seed=seed,
        hospitals=hospitals,
        clinics=clinics,
        dialects=dialect_names or ENGINE_DIALECTS[engine],
        rate=rate,
        duration_s=parse_duration(duration),
        compression=compression,
        day_shape=not flat,
        bad_fraction=bad_fraction,
        bad_kinds=kinds,
        faults=tuple(parse_fault(spec) for spec in fault_specs),
        db_prefix=db_prefix,
        warm_up=not no_warm_up,
        paced=not unpaced,
    )
    ledger = ledger_path or sim_dir(settings) / "ledger.json"
    control = ControlDirectory(sim_dir(settings) / "control")
    control.receive()  # commands left over from an earlier run are void
    simulation = Simulation(settings, options, ledger, control, on_progress=_show_progress)
    click.echo(
        f"simulating {len(simulation.institutions)} institutions for {options.duration_s:g}s "
        f"at {options.rate:g} changes/s from {options.start:%Y-%m-%d %H:%M} (seed {seed})",
        err=True,
    )
    connectors = write_connectors(
        sim_dir(settings) / "connectors",
        connector_documents(
            settings, simulation.institutions, simulation.dialects, options.db_prefix
        ),
    )
    click.echo(
        f"connector files for capture: {len(connectors)} in {connectors[0].parent}", err=True
    )
    began = datetime.now()
    simulation.setup()
    setup_s = (datetime.now() - began).total_seconds()
    if not capture:
        _summary(simulation.run(), setup_s)
        return
    with CaptureAlongside(settings, [load_connector(path) for path in connectors]) as agent:
        click.echo(f"capturing {agent.count} sources into Kafka while simulating", err=True)
        _summary(simulation.run(), setup_s)
    click.echo(f"capture: {agent.summary()}")


@simulate_group.command("fault")
@click.argument("spec")
@click.pass_context
@fails_cleanly
def fault_cmd(ctx: click.Context, spec: str) -> None:
    """Send a fault to the running simulator: outage:h01+30s, burst:c01,rows=5000, alter:h02.

    Applied within a second of arrival; any @AT in SPEC is ignored.
    """
    fault = parse_fault(spec)
    path = ControlDirectory(sim_dir(settings_from(ctx)) / "control").send(fault)
    click.echo(f"sent {fault.kind} for {fault.institution} ({path.name})")


@simulate_group.command("verify")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
@fails_cleanly
def verify_cmd(ctx: click.Context, ledger_path: Path | None) -> None:
    """Check the databases against the last run's ledger; exit 1 on any difference."""
    settings = settings_from(ctx)
    path = ledger_path or sim_dir(settings) / "ledger.json"
    report = verify_ledger(settings, read_ledger(path))
    for problem in report.problems:
        click.echo(f"MISMATCH {problem}")
    click.echo(f"{report.checks} checks against {path}: {len(report.problems)} mismatches")
    if not report.ok:
        raise SystemExit(1)


@simulate_group.command("drop")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
@fails_cleanly
def drop_cmd(ctx: click.Context, ledger_path: Path | None) -> None:
    """Drop the databases of the institutions in a ledger (the last run by default)."""
    settings = settings_from(ctx)
    path = ledger_path or sim_dir(settings) / "ledger.json"
    dropped = drop_databases(settings, read_ledger(path))
    click.echo(f"dropped {len(dropped)} databases: {', '.join(dropped)}")


@simulate_group.command("dialects")
def dialects_cmd() -> None:
    """List the packaged vendor dialects."""
    for name in dialects.available():
        d = dialects.load(name)
        click.echo(f"{d.name:<12} {d.engine:<8} {d.text_encoding:<6} {d.vendor}: {d.description}")


# --- the fleet: many institutions' capture agents without databases -----------------------


def fleet_dir(settings: Settings) -> Path:
    return sim_dir(settings) / "fleet"


def _taken_ids(settings: Settings) -> set[str]:
    """Credit codes of the connector files already configured (the fleet skips them); the
    fleet's own files (``fleet-*``, from an earlier run) do not count, or a rerun with
    STREAMHUB_CONNECTORS_DIR at them would plan other ids than its seed gives."""
    taken: set[str] = set()
    for directory in (settings.connectors_path, sim_dir(settings) / "connectors"):
        if directory.is_dir():
            taken |= {
                c.institution_id
                for c in load_connectors(directory, on_error=lambda _e: None)
                if not c.name.startswith("fleet-")
            }
    return taken


def _show_fleet_progress(progress: FleetProgress) -> None:
    rate = progress.emitted / progress.wall_s if progress.wall_s > 0 else 0.0
    click.echo(
        f"[{progress.wall_s:7.1f}s] business time {progress.business:%Y-%m-%d %H:%M}  "
        f"{progress.emitted:>10,} changes  {rate:>8,.0f}/s  behind {progress.behind_s:.1f}s",
        err=True,
    )


def _fleet_summary(report: FleetReport) -> None:
    click.echo(f"{'table':<16} {'inserts':>10} {'updates':>10} {'deletes':>9}")
    for table, (inserts, updates, deletes) in report.by_table.items():
        click.echo(f"{table:<16} {inserts:>10,} {updates:>10,} {deletes:>9,}")
    rate = report.emitted / report.wall_s if report.wall_s > 0 else 0.0
    per_envelope = report.bytes_out / report.emitted if report.emitted else 0.0
    click.echo(
        f"emitted {report.emitted:,} changes in {report.wall_s:.1f}s ({rate:,.0f}/s), "
        f"{report.heartbeats:,} heartbeats, {per_envelope:.0f} bytes per envelope; at most "
        f"{report.max_behind_s:.1f}s behind schedule"
    )
    click.echo(
        f"fleet CPU: {report.cpu_s:.1f}s for the run ({report.cpu_per_10k:.2f}s per 10,000 "
        f"changes), {report.setup_s:.1f}s setting up"
    )
    click.echo(f"faults applied: {', '.join(report.faults) if report.faults else 'none'}")
    for why in report.refused:
        click.echo(f"fault refused: {why}")
    click.echo(
        f"business time reached {report.business_end:%Y-%m-%d %H:%M}; ledger {report.ledger_path}"
    )


@simulate_group.command("fleet")
@click.option(
    "--institutions",
    type=click.IntRange(1, 9999),
    default=10,
    show_default=True,
    help="How many institutions, in a province's mix (338 hospitals : 1,413 clinics).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same data.")
@click.option(
    "--start",
    default="today",
    show_default=True,
    help="Business time the run starts at: today (08:00), now, or ISO like 2026-03-02T08:00.",
)
@click.option(
    "--duration", default="60s", show_default=True, help="Wall-clock length, e.g. 90s or 20m."
)
@click.option(
    "--day-minutes",
    type=click.FloatRange(min=0.1),
    default=20.0,
    show_default=True,
    help="Wall minutes one business day takes (20: a day in 20 min).",
)
@click.option(
    "--peak-rate",
    type=click.FloatRange(min=0.1),
    default=1500.0,
    show_default=True,
    help="Changes per wall second of the whole fleet at the day curve's peak.",
)
@click.option("--flat", is_flag=True, help="No day curve: the peak rate's daily mean, constant.")
@click.option(
    "--no-warm-up",
    is_flag=True,
    help="Start from empty tables instead of the morning's hours (kept as state, not sent).",
)
@click.option(
    "--fault",
    "fault_specs",
    multiple=True,
    metavar="SPEC",
    help="Scheduled fault, e.g. outage:h0001@30s+20s, burst:c0003@45s,rows=3000, "
    "stuck:h0002@1m+2m, silent:h0002@1m+2m,system=lis (repeatable).",
)
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ground-truth ledger [default: <data_dir>/sim/fleet/ledger.json].",
)
@click.option(
    "--connectors-out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the fleet's connector files [default: <data_dir>/sim/fleet/"
    "connectors]; run centre processes with STREAMHUB_CONNECTORS_DIR pointing at it.",
)
@click.option(
    "--unpaced", is_flag=True, help="Emit as fast as it goes (measures the fleet's own cost)."
)
@click.pass_context
@fails_cleanly
def fleet_cmd(
    ctx: click.Context,
    institutions: int,
    seed: int,
    start: str,
    duration: str,
    day_minutes: float,
    peak_rate: float,
    flat: bool,
    no_warm_up: bool,
    fault_specs: tuple[str, ...],
    ledger_path: Path | None,
    connectors_out: Path | None,
    unpaced: bool,
) -> None:
    """N institutions' capture agents without databases: envelopes on cdc.raw.*, heartbeats
    and source counts through the capture emitter, with a ledger as ground truth.

    Faults at run time: `streamhub simulate fleet-fault SPEC`.
    """
    settings = settings_from(ctx)
    options = FleetOptions(
        start=parse_start(start),
        institutions=institutions,
        seed=seed,
        duration_s=parse_duration(duration),
        pacing=Pacing(day_minutes=day_minutes, peak_rate=peak_rate, flat=flat),
        faults=tuple(parse_fleet_fault(spec) for spec in fault_specs),
        warm_up=not no_warm_up,
        paced=not unpaced,
    )
    ledger = ledger_path or fleet_dir(settings) / "ledger.json"
    control = FleetControl(fleet_dir(settings) / "control")
    control.receive()  # commands left over from an earlier run are void
    click.echo(
        f"fleet of {institutions} institutions for {options.duration_s:g}s, a day in "
        f"{day_minutes:g} min, {peak_rate:g} changes/s at peak, from "
        f"{options.start:%Y-%m-%d %H:%M} (seed {seed}); setting up",
        err=True,
    )
    fleet = Fleet(
        settings,
        options,
        ledger,
        control=control,
        on_progress=_show_fleet_progress,
        taken=_taken_ids(settings),
    )
    directory = connectors_out or fleet_dir(settings) / "connectors"
    count = write_connector_files(directory, fleet.configs)
    click.echo(
        f"{count} connector files in {directory} "
        f"(STREAMHUB_CONNECTORS_DIR={directory} for the centre's processes)",
        err=True,
    )
    _fleet_summary(fleet.run())


@simulate_group.command("fleet-fault")
@click.argument("spec")
@click.pass_context
@fails_cleanly
def fleet_fault_cmd(ctx: click.Context, spec: str) -> None:
    """Send a fault to the running fleet: outage:h0001+30s, burst:c0003,rows=5000,
    stuck:h0002+2m, silent:h0002,system=lis. Applied within a second; @AT is ignored."""
    fault = replace(parse_fleet_fault(spec), at_s=0.0)
    path = FleetControl(fleet_dir(settings_from(ctx)) / "control").send(fault)
    click.echo(f"sent {fault.kind} for {fault.institution} ({path.name})")
