"""How many row changes per second the simulator sustains into the local stack.

Three measurements in one process, on the same workload mix (warm day, flat
curve, 2 hospitals + 2 clinics):

1. baseline: the workload generator alone, no database (the CPU ceiling);
2. unpaced: generator + PostgreSQL/MariaDB writes as fast as they go, per engine
   and both together, reported also as a ratio of the baseline;
3. paced: the target rate (default 5,000/s) held for the duration: achieved
   rate and how far the writer fell behind its schedule.

    .venv/bin/python bench/simulate_throughput.py [--rate 5000] [--duration 30]

Needs the local stack (`streamhub stack up`). Drops the databases it creates.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path

from streamhub.config import load_settings
from streamhub.simulate.activity import load_activity
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases, verify_ledger

START = datetime(2026, 3, 2, 9, 0)
DIALECTS = {
    "postgres": ("english_pg",),
    "mariadb": ("pinyin_gbk",),
    "both": ("english_pg", "pinyin_gbk"),
}


def options(rate: float, duration: float, engines: str, paced: bool) -> SimulationOptions:
    return SimulationOptions(
        start=START,
        seed=2026,
        hospitals=2,
        clinics=2,
        dialects=DIALECTS[engines],
        rate=rate,
        duration_s=duration,
        compression=720.0,  # a short warm-up at high rates; business times stay coherent
        day_shape=False,
        db_prefix=f"bench_{engines}",
        paced=paced,
    )


def generation_only(opts: SimulationOptions) -> tuple[int, float]:
    simulation = Simulation(load_settings(), opts, Path(tempfile.mkdtemp()) / "ledger.json")
    activity = load_activity()
    for workload in simulation.workloads:
        kind = workload.institution.kind
        workload.seed_state(activity.seed_patients[kind], activity.seed_inpatients[kind])
        workload.take_seeded()
        while workload.next_time() < opts.start:
            workload.step()
    end = simulation.business_time.sim_at(opts.duration_s)
    began, changes = time.perf_counter(), 0
    for workload in simulation.workloads:
        while workload.next_time() < end:
            changes += len(workload.step())
    return changes, time.perf_counter() - began


def into_databases(opts: SimulationOptions, check: bool) -> tuple[int, float, float, float]:
    settings = load_settings()
    ledger = Path(tempfile.mkdtemp()) / "ledger.json"
    simulation = Simulation(settings, opts, ledger)
    began = time.perf_counter()
    simulation.setup()
    setup_s = time.perf_counter() - began
    report = simulation.run()
    document = read_ledger(ledger)
    try:
        if check:
            problems = verify_ledger(settings, document).problems
            if problems:
                raise SystemExit(f"ledger and databases disagree: {problems[:3]}")
    finally:
        drop_databases(settings, document)
    return report.written, report.wall_s, report.max_behind_s, setup_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0, help="paced target, changes/s")
    parser.add_argument("--duration", type=float, default=30.0, help="wall seconds per run")
    args = parser.parse_args()

    nominal = 20000.0  # unpaced runs: plenty of work; the databases set the pace
    changes, seconds = generation_only(options(nominal, args.duration, "both", False))
    baseline = changes / seconds
    print(f"baseline   generator only          {changes:>9,} changes  {baseline:>9,.0f}/s")
    for engines in ("postgres", "mariadb", "both"):
        opts = options(nominal / 4, args.duration / 2, engines, paced=False)
        written, wall, _, setup_s = into_databases(opts, check=engines == "both")
        rate = written / wall
        print(
            f"unpaced    {engines:<8} writes          {written:>9,} changes  {rate:>9,.0f}/s"
            f"  ({rate / baseline:.2f} of baseline; set-up {setup_s:.0f}s)"
        )
    opts = options(args.rate, args.duration, "both", paced=True)
    written, wall, behind, _ = into_databases(opts, check=True)
    print(
        f"paced      both at {args.rate:,.0f}/s        {written:>9,} changes  "
        f"{written / wall:>9,.0f}/s  (max {behind:.2f}s behind schedule over {wall:.0f}s)"
    )


if __name__ == "__main__":
    main()
