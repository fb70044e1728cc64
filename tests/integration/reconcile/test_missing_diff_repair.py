"""Lost rows are caught, named and repaired; rejected rows are not counted as lost.

The whole pipeline runs for real (simulator → capture → standardize → land, plus
`streamhub reconcile run`) with the lander's fault hook losing every std record whose
version id is divisible by DROP_EVERY, and one captured table no profile maps (its changes
are dead-lettered by the standardizer). Expected counts are computed independently from
the raw topic. Then: the windows with lost versions are MISSING by exactly that many and
the others MATCH (the unmapped table's with dead_lettered > 0); `reconcile diff` names
exactly the lost keys; `--repair` (lander restarted without the fault) brings each window
to MATCH with repaired > 0 — or, for a key the simulator deleted since, reports it as not
repairable and exits 1; `reconcile show` and ClickHouse's v_reconciliation_current agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.capture.connector import ConnectorConfig, load_connectors
from streamhub.config import Settings
from streamhub.core.identity import canonical_key, version_id
from streamhub.core.topic_names import DLQ_STANDARDIZE
from streamhub.reconcile.result import Result, Status
from streamhub.reconcile.times import local_minute
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases
from streamhub.standardize.pseudonym_keys import IdentityTokens

from ..capture.helpers import captured, wait_until
from ..capture.helpers import write_connector_files as write_connectors
from ..pipeline.harness import RAW_TOPICS, capture_caught_up, source_final_state
from .helpers import (
    UNMAPPED_TABLE,
    ReconcilePipeline,
    add_unmapped_table,
    json_lines,
    write_unmapped_rows,
)

START = datetime(2026, 3, 2, 9, 30)
DROP_EVERY = 200  # 0.5% of the std records are lost: a handful per run
MINUTE_MS = 60_000
MATCHED = (Status.MATCH, Status.LATE)

WindowId = tuple[str, str, int]  # database, qualified table, window start


def test_lost_rows_are_missing_named_by_diff_and_repaired(
    capture_settings: Settings, tmp_path: Path
) -> None:
    settings = capture_settings
    prefix = f"rc{uuid.uuid4().hex[:6]}"
    options = SimulationOptions(
        start=START,
        seed=11,
        hospitals=1,
        clinics=0,
        rate=50.0,
        duration_s=15.0,
        compression=360.0,
        bad_fraction=0.05,
        db_prefix=prefix,
        warm_up=False,
    )
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    (tmp_path / "connectors").mkdir()
    pipeline = ReconcilePipeline(
        settings,
        tmp_path,
        tmp_path / "connectors",
        uuid.uuid4().hex[:8],
        drop_every=DROP_EVERY,
        reconcile_args=["--grace", "20s", "--retention", "15m", "--judge-every", "2"],
    )
    [hospital] = simulation.institutions
    institution = hospital.credit_code
    try:
        simulation.setup()
        write_connectors(settings, simulation, pipeline.connectors_dir, row_count_s=60)
        his_db = hospital.database(prefix, "his")
        his_file = f"{prefix}-{hospital.key}-his".replace("_", "-") + ".yaml"
        add_unmapped_table(settings, pipeline.connectors_dir / his_file, his_db)
        connectors = load_connectors(pipeline.connectors_dir)
        pipeline.pin_groups_to_end()
        migrated = pipeline.streamhub("clickhouse", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        for worker in ("standardize", "land", "reconcile"):
            pipeline.start(worker)
        with captured(settings, connectors):
            runner = threading.Thread(target=simulation.run, daemon=True)
            runner.start()
            write_unmapped_rows(settings, his_db, range(1, 4))
            time.sleep(8)
            write_unmapped_rows(settings, his_db, range(4, 6))
            runner.join()
            assert capture_caught_up(pipeline, connectors, 120) == []
            assert pipeline.wait_drained(120), pipeline.log_tail("land")
            present = {
                (r.database, r.qualified, r.key_json)
                for r in source_final_state(settings, connectors)
            }

            expected = expected_windows(pipeline, connectors, prefix)
            lost = {w: e["lost"] for w, e in expected.items() if e["lost"]}
            assert 0 < sum(map(len, lost.values())) < 25, lost
            assert any(e["rejected"] for e in expected.values()), "nothing was dead-lettered"

            # 1. every window judged with the independently computed counts
            judged = _wait_results(pipeline, prefix, expected, timeout_s=150)
            for window, result in judged.items():
                e = expected[window]
                assert result.dead_lettered == len(e["rejected"]), (window, result)
                if e["lost"]:
                    assert result.status is Status.MISSING, (window, result)
                else:  # LATE: judged before the stages caught up (a 20 s grace), then matched
                    assert result.status in MATCHED, (window, result)
            unmapped = [r for w, r in judged.items() if w[1] == f"public.{UNMAPPED_TABLE}"]
            assert unmapped and all(
                r.status in MATCHED and r.dead_lettered == r.source_changes > 0 for r in unmapped
            ), unmapped

            # 2. the fault is fixed: the lander runs again without it, then diff + repair
            assert pipeline.stop("land") == 0
            pipeline.drop_every = 0
            pipeline.start("land")
            runs = {window: _diff(pipeline, institution, window) for window in sorted(lost)}
            unrepairable: dict[WindowId, set[int]] = {}
            for window, process in runs.items():
                out, err = process.communicate(timeout=240)
                code = process.returncode
                named = {
                    (
                        canonical_key(d["key"]),
                        d["position_seq"],
                    )
                    for d in json_lines(out)
                }
                assert named == {(k, seq) for k, seq, _ in lost[window].values()}, (window, err)
                gone = {
                    v
                    for v, (k, _, _) in lost[window].items()
                    if (window[0], window[1], k) not in present
                }
                unrepairable[window] = gone
                assert code == (1 if gone else 0), (window, code, err[-3000:])
                assert ("not repairable" in err) == bool(gone), err[-3000:]

            # 3. repaired windows MATCH with repaired > 0; a deleted key keeps its window missing
            def repaired() -> bool:
                latest = _latest(pipeline, prefix)
                return all(
                    latest[w].repaired == len(lost[w]) - len(unrepairable[w])
                    and latest[w].difference == -len(unrepairable[w])
                    for w in lost
                )

            assert wait_until(repaired, 60, every_s=2), {
                w: r for w, r in _latest(pipeline, prefix).items() if w in lost
            }
            final = _latest(pipeline, prefix)
            for window in lost:
                status = Status.MISSING if unrepairable[window] else Status.MATCH
                assert final[window].status is status, final[window]
                if final[window].repaired:
                    assert "repair-" in (final[window].detail or "")

            shown = pipeline.streamhub(
                "reconcile",
                "show",
                "--institution",
                institution,
                "--since",
                "20m",
                "--format",
                "json",
            )
            assert shown.returncode == 0, shown.stderr
            rows = {
                (d["database"], d["table"], d["window_start_ms"]): d["status"]
                for d in json_lines(shown.stdout)
                if "window" in d and str(d["database"]).startswith(f"{prefix}_")
            }
            assert rows == {w: r.status.value for w, r in final.items()}
        pipeline.stop_all()

        # 4. ClickHouse holds the same verdicts (read once the lander has stopped)
        landed = pipeline.query(
            "SELECT database, table, window_start_ms, status, repaired, dead_lettered "
            f"FROM {pipeline.database}.v_reconciliation_current "
            f"WHERE startsWith(database, '{prefix}_')"
        )
        in_clickhouse = {
            (r["database"], r["table"], int(r["window_start_ms"])): (
                r["status"],
                int(r["repaired"]),
                int(r["dead_lettered"]),
            )
            for r in landed
        }
        assert in_clickhouse == {
            w: (r.status.value, r.repaired, r.dead_lettered) for w, r in final.items()
        }
    finally:
        pipeline.stop_all()
        drop_databases(settings, read_ledger(tmp_path / "ledger.json"))


def expected_windows(
    pipeline: ReconcilePipeline, connectors: list[ConnectorConfig], prefix: str
) -> dict[WindowId, dict[str, Any]]:
    """Per window, from the raw topic and dlq.standardize (not from reconcile code): the
    versions the source log holds, those dead-lettered, and those the fault hook lost
    (version -> key, position_seq, op)."""
    serde = AvroSerde(SchemaRegistryClient({"url": pipeline.settings.registry_url}))
    names = {c.name for c in connectors}
    rejected = {
        letter["version"]
        for _, _, value in pipeline.read([DLQ_STANDARDIZE])
        if (letter := serde.decode(value).value)["version"] is not None
        and str(letter["database"]).startswith(f"{prefix}_")
    }
    windows: dict[WindowId, dict[str, Any]] = defaultdict(
        lambda: {"versions": set(), "rejected": set(), "lost": {}}
    )
    identity = IdentityTokens.from_settings(pipeline.settings)  # the stack's identity key
    for _, key, value in pipeline.read(RAW_TOPICS):
        envelope = serde.decode(value).value
        source = envelope["source"]
        if source["connector"] not in names:
            continue
        table = f"{source['schema']}.{source['table']}" if source["schema"] else source["table"]
        key_json = canonical_key(json.loads(key)["key"])
        rid = identity.record_id(source["institution_id"], source["database"], table, key_json)
        version = version_id(rid, source["position_seq"])
        start = source["commit_ts_ms"] - source["commit_ts_ms"] % MINUTE_MS
        window = windows[(source["database"], table, start)]
        window["versions"].add(version)
        if version in rejected:
            window["rejected"].add(version)
        elif version % DROP_EVERY == 0:
            window["lost"][version] = (key_json, source["position_seq"], envelope["op"])
    return dict(windows)


def _latest(pipeline: ReconcilePipeline, prefix: str) -> dict[WindowId, Result]:
    return {(r.database, r.table, r.window_start_ms): r for r in pipeline.results(prefix)}


def _wait_results(
    pipeline: ReconcilePipeline,
    prefix: str,
    expected: dict[WindowId, dict[str, Any]],
    timeout_s: float,
) -> dict[WindowId, Result]:
    found: dict[WindowId, Result] = {}

    def complete() -> bool:
        found.clear()
        found.update(_latest(pipeline, prefix))
        return all(
            w in found
            and found[w].source_changes == len(e["versions"])
            and found[w].difference == -len(e["lost"])
            for w, e in expected.items()
        )

    assert wait_until(complete, timeout_s, every_s=3), (
        {w: (len(e["versions"]), len(e["lost"])) for w, e in expected.items()},
        {w: (r.source_changes, r.difference, r.status.value) for w, r in found.items()},
        pipeline.log_tail("reconcile"),
    )
    assert set(found) == set(expected), set(found) ^ set(expected)
    return found


def _diff(pipeline: ReconcilePipeline, institution: str, window: WindowId) -> subprocess.Popen[str]:
    database, table, start = window
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamhub",
            "reconcile",
            "diff",
            "--institution",
            institution,
            "--table",
            f"{database}.{table}",
            "--window",
            local_minute(start),
            "--repair",
            "--format",
            "json",
            "--timeout",
            "150",
        ],
        env=pipeline.env(),
        cwd=pipeline.settings.project_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
