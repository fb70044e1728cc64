"""One short seeded round of bench/region.py: ten fleet institutions and every centre process
(standardize, land, reconcile, anomaly, health, serve) on a private stack of the round's own,
each centre process killed with SIGKILL once and restarted, with two outages, two bursts, a
stuck feed and a silent connector on six of the institutions.

At the end, after the fleet stops and the pipeline drains: every reconciliation window's final
verdict is MATCH (none PENDING) for every institution (or LATE, for the stuck and silent
institutions' windows whose held changes came after the grace), the source changes reconciled
per institution and table equal the fleet's ledger, the anomaly detector found every fault, and
link health, sampled while the stuck and silent faults were on, named exactly those two
institutions. Timing figures are printed, never asserted.

The round is shortened where the bench is not: the detector learns one minute, reconciliation
waits 60 s after a window's end, and link health's degraded limits for heartbeat age and
source lag are lowered so a 45 s spell crosses them.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

from region import RegionOptions, RegionRun, table  # noqa: E402 - bench/ put on the path above


def test_a_short_region_round_reconciles_finds_the_faults_and_names_them() -> None:
    options = RegionOptions(
        institutions=10,
        minutes=3.3,
        peak_rate=200.0,
        seed=11,
        min_history=1,
        reconcile_grace="60s",
        health_thresholds=("heartbeat_degraded_s=15", "source_lag_degraded_s=20"),
        min_held_s=70.0,
        sample_after_s=30.0,
        flat=True,  # the detector learns one minute: a compressed morning's ramp is a spike
        lead_s=15.0,
        drain_timeout_s=300.0,
        port_shift=100,  # beside a bench run on the default ports
        work_dir=Path(tempfile.mkdtemp(prefix="test-region-")),
    )
    result = RegionRun(options).run()
    print(table([result]), result.notes, result.anomaly, result.health, sep="\n")

    assert result.verdicts and set(result.verdicts) <= {"MATCH", "LATE"}, result.verdicts
    assert result.institutions_settled == result.institutions_expected == 10
    assert result.ledger_mismatch == []
    assert all(result.anomaly["found"].values()), result.anomaly
    assert result.health["exact"], result.health
    assert len(result.health["expected"]) == 2
