"""Traffic anomalies on a scripted run with injected faults: precision, recall, delays.

Simulated institutions write for real minutes (the detector judges commit minutes, so
compression does not shorten the run); the capture agent runs in this process and
`streamhub anomaly run` as a child process, exactly as deployed, watching only this
run's connectors. Faults (simulator fault specs, seconds from the run's start, which is
put on a minute boundary):

    outage:h01@135s+110s   burst:c01@200s   outage:h02@375s+110s
    burst:h03@440s         outage:c02@495s+110s        clean to the end (--duration)

Scoring, over the anomalies opened (first event of each anomaly id): an anomaly of a
faulted institution starting between one minute before its fault and three minutes after
it ended is a true positive, any other a false positive; a fault is found when an
anomaly of the expected kind (SILENCE for an outage, SPIKE for a burst) on its
institution is detected within its deadline (3 min for an outage, 2 for a burst).

    .venv/bin/python bench/anomaly_faults.py [--duration 660] [--rate 200] [--min-history 2]

About 12 minutes of wall time by default. Needs the local stack and the topic catalog
applied (`streamhub topics apply`).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from streamhub.anomaly.codec import OpsCodec
from streamhub.capture.alongside import CaptureAlongside
from streamhub.capture.connector import load_connector
from streamhub.config import Settings, load_settings
from streamhub.core.topic_names import ANOMALY as ANOMALY_TOPIC
from streamhub.kafka.groups import topic_ends
from streamhub.simulate.connectors import connector_documents, write_connectors
from streamhub.simulate.faults import Fault, parse_fault
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.verify import drop_databases

START = datetime(2026, 3, 2, 10, 0)
FAULTS = (
    "outage:h01@135s+110s",
    "burst:c01@200s,rows=3000",
    "outage:h02@375s+110s",
    "burst:h03@440s,rows=3000",
    "outage:c02@495s+110s",
)
EXPECTED = {"outage": "SILENCE", "burst": "SPIKE"}
DEADLINE_S = {"outage": 180.0, "burst": 120.0}


@dataclass(frozen=True)
class Scored:
    fault: Fault
    delay_s: float | None

    @property
    def found(self) -> bool:
        return self.delay_s is not None and self.delay_s <= DEADLINE_S[self.fault.kind]


def openings(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for event in sorted(events, key=lambda e: e["detected_ts_ms"]):
        if event["anomaly_id"] not in seen and event["kind"] != "RECOVERED":
            seen.add(event["anomaly_id"])
            out.append(event)
    return out


def related(event: dict[str, Any], fault: Fault, code: str, t0: float) -> bool:
    start_ms = (t0 + fault.at_s) * 1000
    end_ms = (t0 + fault.at_s + fault.for_s) * 1000
    return bool(
        event["institution_id"] == code
        and start_ms - 60_000 <= event["start_ms"] <= end_ms + 180_000
    )


def score(
    events: list[dict[str, Any]], faults: list[Fault], codes: dict[str, str], t0: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Scored]]:
    opened = openings(events)
    true = [e for e in opened if any(related(e, f, codes[f.institution], t0) for f in faults)]
    false = [e for e in opened if e not in true]
    scored = []
    for fault in faults:
        delays = [
            (e["detected_ts_ms"] - (t0 + fault.at_s) * 1000) / 1000
            for e in opened
            if related(e, fault, codes[fault.institution], t0) and e["kind"] == EXPECTED[fault.kind]
        ]
        scored.append(Scored(fault, min(delays) if delays else None))
    return true, false, scored


def read_anomalies(
    settings: Settings, starts: dict[tuple[str, int], int], prefix: str
) -> list[dict[str, Any]]:
    codec = OpsCodec(settings)
    ends = topic_ends(settings, [ANOMALY_TOPIC])
    wanted = {where: end for where, end in ends.items() if end > starts.get(where, 0)}
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": "bench-anomaly-reader"}
    )
    out = []
    try:
        consumer.assign([TopicPartition(t, p, starts.get((t, p), 0)) for t, p in wanted])
        deadline = time.monotonic() + 60
        while wanted and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=1.0):
                where = (message.topic() or "", message.partition() or 0)
                if message.error() is not None or where not in wanted:
                    continue
                record = codec.decode(message.value() or b"")
                if str(record.get("connector") or "").startswith(f"{prefix}-"):
                    out.append(record)
                if (message.offset() or 0) + 1 >= wanted[where]:
                    del wanted[where]
    finally:
        consumer.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=660.0, help="wall seconds simulated")
    parser.add_argument("--rate", type=float, default=200.0, help="row changes/s, all together")
    parser.add_argument("--min-history", type=int, default=2, help="minutes before judging")
    args = parser.parse_args()

    settings = load_settings()
    tag = uuid.uuid4().hex[:8]
    prefix = f"ab{tag[:6]}"
    # the capture agent's own group and positions, as the capture tests isolate them
    settings = settings.model_copy(
        update={
            "capture_group": f"bench-capture-{tag}",
            "capture_positions_topic": f"_bench_capture_positions_{tag}",
        }
    )
    faults = [parse_fault(spec) for spec in FAULTS]
    options = SimulationOptions(
        start=START,
        seed=31,
        hospitals=3,
        clinics=2,
        rate=args.rate,
        duration_s=args.duration,
        compression=60.0,
        day_shape=False,
        faults=tuple(faults),
        db_prefix=prefix,
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-anomaly-"))
    simulation = Simulation(settings, options, workdir / "ledger.json")
    codes = {inst.key: inst.credit_code for inst in simulation.institutions}
    suppressions = f"_bench_anomaly_suppressions_{tag}"
    simulation.setup()
    paths = write_connectors(
        workdir / "connectors",
        connector_documents(settings, simulation.institutions, simulation.dialects, prefix),
    )
    starts = topic_ends(settings, [ANOMALY_TOPIC])
    log = (workdir / "anomaly.log").open("ab")
    app = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamhub",
            "--log-level",
            "info",
            "anomaly",
            "run",
            "--history",
            "0",
            "--min-history",
            str(args.min_history),
            "--compression",
            "60",
            "--tick-s",
            "2",
            "--connectors",
            f"{prefix}-*",
            "--suppressions-topic",
            suppressions,
        ],
        env={**os.environ, "STREAMHUB_ANOMALY_GROUP": f"bench-anomaly-{tag}"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    began = time.monotonic()
    try:
        with CaptureAlongside(settings, [load_connector(p) for p in paths]):
            now = time.time()
            t0 = now - now % 60 + 61  # a minute boundary: the first learned minute is whole
            time.sleep(t0 - now)
            runner = threading.Thread(target=simulation.run, daemon=True)
            runner.start()
            print(f"run started at {datetime.fromtimestamp(t0):%H:%M:%S}; faults: {FAULTS}")
            runner.join()
            # stop with the simulator: its end would otherwise be every feed's silence
            app.send_signal(signal.SIGTERM)
            app.wait(60)
        events = read_anomalies(settings, starts, prefix)
    finally:
        if app.poll() is None:
            app.kill()
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        for deleted in admin.delete_topics(
            [suppressions, settings.capture_positions_topic]
        ).values():
            deleted.result(30)
        if (workdir / "ledger.json").exists():
            drop_databases(settings, read_ledger(workdir / "ledger.json"))

    true, false, scored = score(events, faults, codes, t0)
    opened = len(true) + len(false)
    found = sum(s.found for s in scored)
    print(
        f"\n{len(simulation.institutions)} institutions, {len(paths)} connectors, "
        f"rate {args.rate:g}/s, {args.duration:g}s simulated, wall {time.monotonic() - began:.0f}s"
    )
    for s in scored:
        delay = "missed" if s.delay_s is None else f"detected after {s.delay_s:.0f}s"
        print(
            f"  {s.fault.describe():24} {EXPECTED[s.fault.kind]:8} {delay}"
            + ("" if s.found else "  (late or missed)")
        )
    for e in false:
        print(
            f"  false positive: {e['kind']} {e['connector']} {e['table']} "
            f"start +{e['start_ms'] / 1000 - t0:.0f}s"
        )
    precision = len(true) / opened if opened else 1.0
    print(
        f"anomalies opened {opened}: true {len(true)}, false {len(false)}; "
        f"precision {precision:.2f}, recall {found}/{len(faults)} = {found / len(faults):.2f}"
    )


if __name__ == "__main__":
    main()
