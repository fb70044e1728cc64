"""The fault matrix: a seeded run with random faults, and what must hold after it drains.

On a private stack of its own (PostgreSQL, MariaDB, Kafka with one or three brokers and the
registry, under their own data dir and ports: the shared stack is never touched), two
simulated institutions (PostgreSQL and MariaDB) write inserts, updates and deletes for
--minutes through capture (in a network namespace of its own) → standardize (2 workers)
→ land, with `reconcile run`, `anomaly run` and `health --serve` beside them. Faults hit
at times drawn from the seed, printed before the run starts (bench/faults_plan.py):
kill -9 of the capture agent, a standardize worker, the lander, the reconcile and the
anomaly workers (each started again after its restart delay, as a supervisor would), of
one Kafka broker (three brokers; started again later, or with --broker-for-good never),
a restart of PostgreSQL and of MariaDB (down 30 s), and a 30 s network cut between the
capture agent and Kafka (bench/netcut.py). After the drain: the verdict table of
bench/faults_checks.py; the exit status is 1 when any check fails.

    .venv/bin/python bench/faults.py --seed 1                  # 10 minutes, one broker
    .venv/bin/python bench/faults.py --seed 1 --brokers 3      # with the broker kill
    .venv/bin/python bench/faults.py --seed 1 --minutes 4 --only kill:land,netcut

Needs root (network namespaces), Java and the stack's Kafka jars, PostgreSQL and MariaDB
installed (`streamhub stack up` did that once). Replay a failing run with its seed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.integration.pipeline

from faults_checks import verdict_table
from faults_plan import FULL_MATRIX
from faults_run import FaultRun, RunOptions
from faults_stack import PrivateFaultStack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=10.0, help="wall minutes of writes")
    parser.add_argument("--brokers", type=int, choices=(1, 3), default=1)
    parser.add_argument("--broker-for-good", action="store_true", help="the broker stays down")
    parser.add_argument(
        "--only", default="", help=f"comma-separated fault kinds (default all: {FULL_MATRIX})"
    )
    parser.add_argument("--netcut-s", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=40.0, help="changes per wall second")
    parser.add_argument(
        "--drain-timeout", type=float, default=900.0, help="seconds each drain step may take"
    )
    parser.add_argument(
        "--port-shift", type=int, default=0, help="added to every port: runs side by side"
    )
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/streamhub-faults"))  # noqa: S108
    args = parser.parse_args()
    kinds = tuple(k for k in args.only.split(",") if k) or FULL_MATRIX
    stack = PrivateFaultStack(
        brokers=args.brokers,
        data_dir=args.work_dir / f"stack-{args.seed}-{args.port_shift}",
        shift=args.port_shift,
    )
    os.environ.update(stack.env())  # every child and every settings load sees this stack
    options = RunOptions(
        seed=args.seed,
        minutes=args.minutes,
        kinds=kinds,
        netcut_s=args.netcut_s,
        rate=args.rate,
        broker_for_good=args.broker_for_good,
        drain_timeout_s=args.drain_timeout,
        health_port=27505 + args.port_shift,
        work_dir=args.work_dir,
    )
    print(
        f"command: {' '.join([Path(sys.executable).name, *sys.argv])}\n"
        f"private stack: {stack.data_dir}, Kafka {stack.bootstrap()}",
        flush=True,
    )
    result = FaultRun(options, stack).run()
    print(f"\nseed {result.seed}; faults: {'; '.join(result.schedule)}")
    print(f"figures: {result.figures}\n")
    print(verdict_table(result.verdicts))
    print(f"\n{'ALL PASS' if result.ok else 'FAILED'} (seed {result.seed})", flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
