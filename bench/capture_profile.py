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
import gc
import pstats
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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


class GcTimer:
    """CPU time spent in the cyclic garbage collector, by generation."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self._began = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.thread_time()
        else:
            self.seconds[info["generation"]] += time.thread_time() - self._began
            self.runs[info["generation"]] += 1


def _sampler() -> Any:
    try:
        from pyinstrument import Profiler  # optional: not a project dependency
    except ImportError as exc:
        raise SystemExit("--sample needs pyinstrument (pip install pyinstrument)") from exc
    return Profiler(interval=0.0005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(DIALECTS), default="postgres")
    parser.add_argument("--backlog", type=int, default=40000, help="changes to drain")
    parser.add_argument("--profile", action="store_true", help="run under cProfile")
    parser.add_argument(
        "--sample", action="store_true", help="run under pyinstrument (if installed) instead"
    )
    parser.add_argument(
        "--freeze-gc",
        action="store_true",
        help="gc.freeze() again before draining: this process also holds the simulator's state",
    )
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
        if args.freeze_gc:
            gc.freeze()
        gc_timer = GcTimer()
        profile = cProfile.Profile() if args.profile else None
        sampler = _sampler() if args.sample else None
        total_events = 0
        total_cpu = total_own = total_wall = 0.0
        for config in connectors:
            stop = threading.Event()
            task = ConnectorTask(settings, config, stop)
            watcher = threading.Thread(target=_stop_when_quiet, args=(task, stop, 1.5))
            watcher.start()
            cpu, own, wall = time.process_time(), time.thread_time(), time.monotonic()
            if profile is not None:
                profile.enable()
            if sampler is not None:
                sampler.start()
            task.run()
            if profile is not None:
                profile.disable()
            if sampler is not None:
                sampler.stop()
            own = time.thread_time() - own
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall - 1.5
            watcher.join()
            total_events += task.events_total
            total_cpu += cpu
            total_own += own
            total_wall += wall
            print(
                f"  {config.name:<28} {task.events_total:>7,} events  cpu {cpu:6.2f}s  "
                f"= {cpu / max(task.events_total, 1) * 10_000:5.2f} cpu-s per 10k "
                f"(task thread {own / max(task.events_total, 1) * 10_000:5.2f})"
            )
        print(
            f"total {total_events:,} events: cpu {total_cpu:.2f}s = "
            f"{total_cpu / max(total_events, 1) * 10_000:.2f} cpu-s per 10,000 events, of which "
            f"the task's thread {total_own / max(total_events, 1) * 10_000:.2f} "
            f"(wall {total_wall:.1f}s incl. start; the quiet 1.5 s excluded)"
        )
        print(
            "garbage collection (this process, draining): "
            + ", ".join(
                f"gen{g} {gc_timer.runs[g]:,} runs {gc_timer.seconds[g]:.2f}s" for g in range(3)
            )
        )
        if sampler is not None:
            print(sampler.output_text(show_all=False, color=False))
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
