"""Where the capture agent spends its CPU per change: one engine's backlog drained in this
process, each connector's task run in turn on the main thread under cProfile.

1. one hospital's databases are set up and its connectors started until each stored its
   first position and finished its snapshot (slots and publications exist);
2. the simulator writes ``--backlog`` changes while no task runs;
3. each connector's task drains its share alone, stopped once it reads nothing for 1.5 s;
   CPU seconds (``time.process_time``) per 10,000 events are printed, and with
   ``--profile`` the top functions by own and cumulative time.

    .venv/bin/python bench/capture_profile.py [--engine postgres] [--backlog 40000] [--profile]

Needs the local stack and the topic catalog applied (`streamhub topics apply`).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import threading
import time
from pathlib import Path

from capture_throughput import isolated, prepare

from streamhub.capture.agent import CaptureAgent
from streamhub.capture.positions import PositionStore
from streamhub.capture.task import ConnectorTask
from streamhub.config import load_settings
from streamhub.simulate.ledger import read_ledger
from streamhub.simulate.verify import drop_databases

DIALECTS = {"postgres": "english_pg", "mariadb": "pinyin_gbk"}


def _stop_when_quiet(task: ConnectorTask, stop: threading.Event, quiet_s: float) -> None:
    seen, since = -1, time.monotonic()
    while not stop.is_set():
        time.sleep(0.1)
        if task.events_total != seen:
            seen, since = task.events_total, time.monotonic()
        elif seen > 0 and time.monotonic() - since >= quiet_s:
            stop.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(DIALECTS), default="postgres")
    parser.add_argument("--backlog", type=int, default=40000, help="changes to drain")
    parser.add_argument("--profile", action="store_true", help="run under cProfile")
    parser.add_argument("--top", type=int, default=40, help="functions to print")
    parser.add_argument("--out", type=Path, help="write the merged profile (pstats) here")
    args = parser.parse_args()
    settings = isolated(load_settings())
    directory = Path(tempfile.mkdtemp())
    simulation, connectors = prepare(
        settings, DIALECTS[args.engine], args.backlog / 10, 10.0, False, directory
    )
    try:
        stop = threading.Event()
        agent = CaptureAgent(settings, connectors, coordinated=False)
        thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
        thread.start()
        positions = PositionStore(settings)

        def snapshotted(name: str) -> bool:
            state = positions.load(name)
            progress = (state or {}).get("snapshot") or {}
            return state is not None and all(p["done"] for p in progress.values())

        deadline = time.monotonic() + 120
        while not all(snapshotted(c.name) for c in connectors) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)
        stop.set()
        thread.join(60)
        report = simulation.run()
        print(f"{args.engine}: {report.written:,} changes written; draining per connector")
        profile = cProfile.Profile() if args.profile else None
        total_events = 0
        total_cpu = total_wall = 0.0
        for config in connectors:
            stop = threading.Event()
            task = ConnectorTask(settings, config, stop)
            watcher = threading.Thread(target=_stop_when_quiet, args=(task, stop, 1.5))
            watcher.start()
            cpu, wall = time.process_time(), time.monotonic()
            if profile is not None:
                profile.enable()
            task.run()
            if profile is not None:
                profile.disable()
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall - 1.5
            watcher.join()
            total_events += task.events_total
            total_cpu += cpu
            total_wall += wall
            print(
                f"  {config.name:<28} {task.events_total:>7,} events  cpu {cpu:6.2f}s  "
                f"= {cpu / max(task.events_total, 1) * 10_000:5.2f} cpu-s per 10k"
            )
        print(
            f"total {total_events:,} events: cpu {total_cpu:.2f}s = "
            f"{total_cpu / max(total_events, 1) * 10_000:.2f} cpu-s per 10,000 events "
            f"(wall {total_wall:.1f}s incl. start; the quiet 1.5 s excluded)"
        )
        if profile is not None:
            stats = pstats.Stats(profile)
            if args.out:
                stats.dump_stats(str(args.out))
            stats.sort_stats("tottime").print_stats(args.top)
            stats.sort_stats("cumulative").print_stats(args.top)
    finally:
        drop_databases(settings, read_ledger(directory / "ledger.json"))


if __name__ == "__main__":
    main()
