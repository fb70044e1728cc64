"""Simulated institutions → capture → ops.source_counts/heartbeat → `streamhub anomaly run`.

One run of real minutes (the detector judges commit minutes), four institutions:
h01 has an outage (it must be flagged SILENCE within 3 minutes, and no other institution
may raise anything), c01 a bulk-update burst (flagged SPIKE on that feed only), h03 the
same outage as h01 but inside a maintenance window declared with the CLI while the app
runs (nothing raised), h02 is clean (nothing raised). The h01 anomaly is acknowledged
with the CLI and must be re-published suppressed, and `anomaly show` must list it. A
restarted detector (warm start over the run) must re-find the outage without publishing
anything twice. Cold start: the detector judges a feed after ``--min-history`` minutes of
its traffic, which the first minutes of the run provide; the run starts on a minute
boundary so the first learned minute is whole.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from streamhub.capture.alongside import CaptureAlongside
from streamhub.config import Settings
from streamhub.simulate.faults import parse_fault
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases

from ..capture.helpers import write_connector_files
from .harness import AnomalyRun, wait_for_minute_boundary

START = datetime(2026, 3, 2, 10, 0)
MIN_HISTORY = 2  # minutes m0 and m1 of the run are learned, m2 onwards judged
OUTAGE_AT_S, OUTAGE_FOR_S = 135.0, 110.0  # m3 = [180 s, 240 s) entirely silent
BURST_AT_S = 200.0  # inside m3
DURATION_S = 285.0
JUDGED_M4_S = 325.0  # the app stops then, before the minute after the simulator's end is judged
DEADLINE_MS = 180_000


def _institution_events(events: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [e for e in events if e["institution_id"] == code]


def test_outage_and_burst_are_flagged_and_clean_feeds_stay_quiet(
    capture_settings: Settings, tmp_path: Path
) -> None:
    started = time.monotonic()
    tag = uuid.uuid4().hex[:8]
    prefix = f"an{tag[:6]}"
    options = SimulationOptions(
        start=START,
        seed=21,
        hospitals=3,
        clinics=1,
        rate=200.0,
        duration_s=DURATION_S,
        compression=60.0,
        day_shape=False,  # the cold-start baseline is the recent level: keep the day flat
        faults=(
            parse_fault(f"outage:h01@{OUTAGE_AT_S:g}s+{OUTAGE_FOR_S:g}s"),
            parse_fault(f"outage:h03@{OUTAGE_AT_S:g}s+{OUTAGE_FOR_S:g}s"),
            parse_fault(f"burst:c01@{BURST_AT_S:g}s,rows=3000"),
        ),
        db_prefix=prefix.replace("-", "_"),
    )
    simulation = Simulation(capture_settings, options, tmp_path / "ledger.json")
    codes = {inst.key: inst.credit_code for inst in simulation.institutions}
    run = AnomalyRun(capture_settings, tmp_path, prefix=prefix, tag=tag)
    try:
        simulation.setup()
        connectors = write_connector_files(
            capture_settings, simulation, tmp_path / "connectors", row_count_s=60
        )
        run.start(
            "--history",
            "0",
            "--min-history",
            str(MIN_HISTORY),
            "--compression",
            "60",
            "--tick-s",
            "2",
        )
        run.wait_ready()
        with CaptureAlongside(capture_settings, connectors):
            t0 = wait_for_minute_boundary()
            runner = threading.Thread(target=simulation.run, daemon=True)
            runner.start()
            # declared while the app runs: it follows the suppressions topic
            declared = run.streamhub(
                "anomaly",
                "maintenance",
                "--institution",
                codes["h03"],
                "--from",
                "now",
                "--to",
                "now+30m",
                "--reason",
                "planned upgrade (test)",
                "--suppressions-topic",
                run.suppressions_topic,
            )
            assert declared.returncode == 0, declared.stderr
            acknowledged = _acknowledge_first_silence(run, codes["h01"], t0)
            runner.join()
            print(f"simulator at most {simulation.max_behind_s:.1f} s behind schedule")
            # m4 = [240 s, 300 s) is judged at about 317 s: a burst the busy simulator wrote
            # late lands there; m5, after the simulator's end, would be everyone's silence
            time.sleep(max(0.0, t0 + JUDGED_M4_S - time.time()))
            run.check_alive()
            assert run.stop() == 0, run.log_tail()
        events = run.events()
        warm = _restart_warm(run, codes["h01"])
    finally:
        if run.process is not None and run.process.poll() is None:
            run.stop()
        admin = AdminClient({"bootstrap.servers": capture_settings.kafka_bootstrap})
        topics = [run.suppressions_topic, capture_settings.capture_positions_topic]
        for deleted in admin.delete_topics(topics).values():
            deleted.result(30)
        if (tmp_path / "ledger.json").exists():
            drop_databases(capture_settings, read_ledger(tmp_path / "ledger.json"))

    outage_ms = round((t0 + OUTAGE_AT_S) * 1000)
    burst_ms = round((t0 + BURST_AT_S) * 1000)
    for e in events:
        print(
            f"{e['kind']:9} {e['institution_id']} {e['connector']:22} {e['table'] or '*':40} "
            f"start +{(e['start_ms'] - t0 * 1000) / 1000:.0f}s "
            f"detected +{(e['detected_ts_ms'] - t0 * 1000) / 1000:.0f}s "
            f"observed {e['observed']:g} expected {e['expected']:.1f} {e['suppression'] or ''}"
        )

    # h01: its outage is flagged SILENCE within three minutes of its start
    h01 = _institution_events(events, codes["h01"])
    silences = [e for e in h01 if e["kind"] == "SILENCE"]
    assert silences, f"h01's outage was not flagged:\n{run.log_tail()}"
    delay_ms = min(e["detected_ts_ms"] for e in silences) - outage_ms
    print(f"outage detection delay: {delay_ms / 1000:.0f} s")
    assert 0 < delay_ms <= DEADLINE_MS
    assert all(e["start_ms"] >= outage_ms - 60_000 for e in h01), "h01 flagged before its outage"

    # the acknowledgement (CLI → topic → app) re-published that anomaly suppressed
    assert acknowledged is not None, "no h01 SILENCE to acknowledge while the run lasted"
    suppressed = [e for e in h01 if e["anomaly_id"] == acknowledged and e["suppressed"]]
    assert suppressed and suppressed[-1]["suppression"] == "ack:tester"
    # and `anomaly show` (reading ops.anomaly) lists it open, acknowledged
    shown = run.streamhub(
        "anomaly", "show", "--open", "--since", "1h", "--institution", codes["h01"]
    )
    assert shown.returncode == 0, shown.stderr
    (line,) = [row for row in shown.stdout.splitlines() if row.startswith(acknowledged)]
    assert line.split()[4:6] == ["SILENCE", "open"] and "ack:tester" in line

    # a restart replays the run's inputs: the outage is re-found (its baseline and open
    # anomalies rebuilt) and nothing already on ops.anomaly is published again
    print(warm)
    assert warm["events"] > 0 and warm["open"] > 0 and warm["published"] == 0

    # c01: the burst is a SPIKE on the burst's feed, in the burst's minute (or the next, on
    # a machine so busy that the simulator fell that far behind), and nothing else
    c01 = _institution_events(events, codes["c01"])
    registration = (
        simulation.dialects[next(i.dialect for i in simulation.institutions if i.key == "c01")]
        .tables["registration"]
        .name
    )
    spikes = [e for e in c01 if e["kind"] == "SPIKE"]
    assert spikes, "c01's burst was not flagged"
    assert {str(e["table"]).rsplit(".", 1)[-1] for e in c01} == {registration}
    burst_minute = burst_ms - burst_ms % 60_000
    assert all(burst_minute <= e["start_ms"] <= burst_minute + 60_000 for e in c01)
    print(f"burst detection delay: {(spikes[0]['detected_ts_ms'] - burst_ms) / 1000:.0f} s")

    # h02 is clean and h03's outage fell in its maintenance window: nothing from either
    assert _institution_events(events, codes["h02"]) == []
    assert _institution_events(events, codes["h03"]) == []
    print(f"wall time {time.monotonic() - started:.0f} s")


def _acknowledge_first_silence(run: AnomalyRun, institution: str, t0: float) -> str | None:
    """While the simulator runs: ack h01's first SILENCE with the CLI, check the metrics."""
    deadline = t0 + DURATION_S - 5
    while time.time() < deadline:
        run.check_alive()
        silences = [
            e for e in run.events() if e["institution_id"] == institution and e["kind"] == "SILENCE"
        ]
        if silences:
            anomaly_id = str(silences[0]["anomaly_id"])
            _wait_metric(run, "streamhub_anomaly_open_count", institution)
            assert run.metrics().get(("streamhub_anomaly_feeds_count", ()), 0) > 0
            done = run.streamhub(
                "anomaly",
                "ack",
                anomaly_id,
                "--by",
                "tester",
                "--since",
                "1h",
                "--suppressions-topic",
                run.suppressions_topic,
            )
            assert done.returncode == 0, done.stderr
            assert "acknowledged" in done.stdout
            _wait_metric(run, "streamhub_anomaly_suppressed_count", institution)
            return anomaly_id
        time.sleep(3)
    return None


def _restart_warm(run: AnomalyRun, institution: str) -> dict[str, int]:
    """Start the detector again with a warm start over this run; what its replay found."""
    options = ["--min-history", str(MIN_HISTORY), "--compression", "60", "--tick-s", "2"]
    run.start("--history", "15m", *options)
    run.wait_ready()
    _wait_metric(run, "streamhub_anomaly_open_count", institution)  # remembered, not re-learned
    assert run.stop() == 0, run.log_tail()
    (line,) = [row for row in run.log_since_start().splitlines() if row.startswith("warm start:")]
    found = re.search(
        r"replayed (\d+) records .* (\d+) anomaly events found, (\d+) missing .* (\d+) open", line
    )
    assert found is not None, line
    replayed, events, published, opened = (int(g) for g in found.groups())
    return {"replayed": replayed, "events": events, "published": published, "open": opened}


def _wait_metric(run: AnomalyRun, name: str, institution: str) -> None:
    """Until the gauge, summed over the institution's label sets, is at least 1 (the app
    refreshes its gauges every tick)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        total = sum(
            value
            for (sample, labels), value in run.metrics().items()
            if sample == name and ("institution", institution) in labels
        )
        if total >= 1:
            return
        time.sleep(1)
    raise AssertionError(f"{name}{{institution={institution}}} did not reach 1 within 20 s")
