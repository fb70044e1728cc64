"""One short seeded round of the fault matrix (bench/faults.py).

Two simulated institutions (PostgreSQL and MariaDB) write for 75 s through capture (in a
network namespace of its own) → two standardize workers → the lander, with reconcile,
anomaly and link health beside them; the lander and a standardize worker are killed with
SIGKILL and started again, and the capture agent's path to Kafka is cut for 20 s. After
the drain: ClickHouse equals the sources row for row, every reconciliation window is
MATCH, the anomaly detector and link health name the cut, no dead letter, no process
exited unasked.

Kafka and the registry are the round's own (a single broker under tmp_path, on ports of
its own): on the shared topics the round's lander would have to land every other test's
records before its lag reads zero. The databases are the shared ones (the round's own
databases in them); nothing shared is restarted. The full matrix (databases restarted,
brokers killed, 10 minutes, three seeds) is the benchmark.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

from streamhub.config import Settings

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

from faults_checks import verdict_table  # noqa: E402 - bench/ put on the path above
from faults_run import FaultRun, RunOptions  # noqa: E402
from faults_stack import PrivateFaultStack  # noqa: E402

SEED = 2020
SHIFT = 300  # Kafka on 27392 (controller 27393), the registry on 27481


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_seeded_round_of_kills_and_a_network_cut_loses_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    options = RunOptions(
        seed=SEED,
        minutes=75 / 60,
        kinds=("kill:land", "kill:std", "netcut"),
        netcut_s=20.0,
        rate=30.0,
        reconcile_grace="60s",
        drain_timeout_s=600.0,
        lead_s=15.0,
        tail_s=20.0,
        stale_after_s=12.0,
        health_degraded_s=10.0,
        health_port=_free_port(),
        work_dir=tmp_path,
    )
    stack = PrivateFaultStack(
        data_dir=tmp_path / "stack",
        shift=SHIFT,
        services=("kafka", "registry"),
        secrets_from=settings.secrets_dir,
    )
    began = time.monotonic()
    result = FaultRun(options, stack).run()
    table = verdict_table(result.verdicts)
    print(f"seed {SEED}: {'; '.join(result.schedule)} ({time.monotonic() - began:.0f} s)")
    print(table)
    assert result.ok, f"seed {SEED}, faults {result.schedule}:\n{table}"
