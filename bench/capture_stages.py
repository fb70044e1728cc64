"""Where a change waits between its commit and Kafka: per-stage timing inside the capture agent.

Runs the latency run of ``capture_throughput.py`` (one simulated hospital's four databases,
inserts at a fixed rate) against an agent whose stages are stamped, in its own process, by
wrappers installed before the CLI starts. For each insert, in wall-clock time:

    commit     the simulator's COMMIT returned
    read       the binlog event reached the agent's stream thread (MariaDB) / the reader's
               batch was handed to the task (PostgreSQL: read and translated are one step)
    translated the connector's translator turned it into a change (MariaDB)
    buffered   it was put in the connector's buffer (MariaDB; waits while the buffer is full)
    taken      the connector's task took it from its reader
    produced   its envelope was handed to the producer
    acked      Kafka acknowledged it (the delivery callback ran, from the task's poll)
    received   a consumer of cdc.raw.* received it (the bench's receiver)

and prints, per gap, p50/p99/max, and the mean of each gap over the slowest 1 % of inserts:
what the tail is made of. It also times each connector thread's position stores (the time its
loop spends in ``_store_safe``) and, where it exists, how long a position write takes to be
acknowledged. The wrappers cost CPU of their own: compare gaps, not the end-to-end figure,
with ``capture_throughput.py``.

    .venv/bin/python bench/capture_stages.py [--engine mariadb] [--rate 2000] [--duration 20]
"""

from __future__ import annotations

import argparse
import atexit
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

STAMPS_ENV = "STREAMHUB_BENCH_STAGE_STAMPS"
GAPS = ("commit", "read", "translated", "buffered", "taken", "produced", "acked", "received")


def instrument(out: str) -> None:
    """In the agent process: wrap the stages and dump the stamps at exit."""
    from streamhub.capture import task as task_module
    from streamhub.capture.emitter import Emitter
    from streamhub.capture.model import RowEvent
    from streamhub.capture.mysql import server_stream, translator
    from streamhub.capture.positions import PositionStore

    now = time.time
    local = threading.local()
    pending: dict[int, list[float]] = {}  # id(event) -> stamps, until the event is emitted
    stamps: dict[str, dict[str, float]] = {}  # row key -> stage -> time, inserts only
    by_number: dict[tuple[int, int], str] = {}  # (emitter id, ack number) -> row key
    stores: list[float] = []
    writes: list[float] = []

    def row_key(event: RowEvent) -> str:
        after = event.after or {}
        key = next(iter(after[c] for c in event.table.key_columns))
        return f"{event.table.database}|{event.table.name}|{key}"

    step = server_stream.ServerStream._step

    def timed_step(self: Any, event: Any, stream: Any) -> None:
        local.read = now()
        step(self, event, stream)

    translate = translator.BinlogTranslator.translate

    def timed_translate(self: Any, event: Any) -> list[Any]:
        out = translate(self, event)
        at = now()
        for item in out:
            if isinstance(item, RowEvent) and item.op == "c":
                pending[id(item)] = [getattr(local, "read", at), at]
        return out

    put = server_stream.EventBuffer.put

    def timed_put(self: Any, events: list[Any], *args: Any) -> None:
        put(self, events, *args)
        at = now()
        for item in events:
            entry = pending.get(id(item))
            if entry is not None:
                entry.append(at)

    read_step = task_module.ConnectorTask._handle

    def timed_handle(self: Any, event: Any) -> None:
        if isinstance(event, RowEvent) and event.op == "c":
            entry = pending.setdefault(id(event), [])
            entry.append(now())
        read_step(self, event)

    change = Emitter.change

    def timed_change(self: Emitter, event: RowEvent) -> None:
        change(self, event)
        if event.op != "c":
            return
        entry = pending.pop(id(event), [])
        key = row_key(event)
        if len(entry) == 4:
            names = ("read", "translated", "buffered", "taken")
        else:  # PostgreSQL: taken from the reader's batch only
            names = ("taken",)
            entry = entry[-1:]
        stage = dict(zip(names, entry, strict=True))
        stage["produced"] = now()
        stamps[key] = stage
        by_number[(id(self), self.tracker.sent)] = key

    delivered = Emitter._delivered

    def timed_delivered(self: Emitter, number: int, err: Any, msg: Any) -> None:
        key = by_number.pop((id(self), number), None)
        if key is not None:
            stamps[key]["acked"] = now()
        delivered(self, number, err, msg)

    store_safe = task_module.ConnectorTask._store_safe

    def timed_store_safe(self: Any) -> None:
        began = time.perf_counter()
        store_safe(self)
        stores.append(time.perf_counter() - began)

    send = getattr(PositionStore, "send", None)
    if send is not None:

        def timed_send(self: Any, connector: str, state: Any, saved: Any) -> None:
            began = time.perf_counter()

            def done(state: Any) -> None:
                writes.append(time.perf_counter() - began)
                saved(state)

            send(self, connector, state, done)

        PositionStore.send = timed_send  # type: ignore[method-assign]
    else:
        save = PositionStore.save

        def timed_save(self: Any, connector: str, state: Any) -> None:
            began = time.perf_counter()
            save(self, connector, state)
            writes.append(time.perf_counter() - began)

        PositionStore.save = timed_save  # type: ignore[method-assign]

    server_stream.ServerStream._step = timed_step  # type: ignore[method-assign]
    translator.BinlogTranslator.translate = timed_translate  # type: ignore[method-assign]
    server_stream.EventBuffer.put = timed_put  # type: ignore[method-assign]
    task_module.ConnectorTask._handle = timed_handle  # type: ignore[method-assign]
    task_module.ConnectorTask._store_safe = timed_store_safe  # type: ignore[method-assign]
    Emitter.change = timed_change  # type: ignore[method-assign]
    Emitter._delivered = timed_delivered  # type: ignore[method-assign]

    def dump() -> None:
        Path(out).write_text(json.dumps({"stamps": stamps, "stores": stores, "writes": writes}))

    atexit.register(dump)


def quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p99 = ordered[max(int(len(ordered) * 0.99) - 1, 0)]
    return f"p50 {statistics.median(ordered):7.1f}  p99 {p99:7.1f}  max {ordered[-1]:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="mariadb", choices=("mariadb", "postgres"))
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--duration", type=float, default=20.0)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    import capture_throughput as ct

    from streamhub.config import load_settings
    from streamhub.simulate.ledger import read_ledger
    from streamhub.simulate.verify import drop_databases

    dialect = "pinyin_gbk" if args.engine == "mariadb" else "english_pg"
    settings = ct.isolated(load_settings())
    directory = Path(tempfile.mkdtemp())
    out = directory / "stamps.json"
    simulation, connectors = ct.prepare(
        settings, dialect, args.rate, args.duration, True, directory
    )
    command = [sys.executable, __file__, "--agent"]
    agent = ct.Agent(settings, directory, connectors, command, {STAMPS_ENV: str(out)})
    agent.wait_snapshotted(settings, connectors)
    time.sleep(2)
    receiver = ct.Receiver(settings, {c.connection.database for c in connectors})
    receiver.start()
    simulation.committed = {}
    report = simulation.run()
    time.sleep(5)
    agent.stop()
    receiver.stop.set()
    drop_databases(settings, read_ledger(directory / "ledger.json"))
    dumped = json.loads(out.read_text())
    rows: list[dict[str, float]] = []
    for (database, table, key), committed in simulation.committed.items():
        stage = dumped["stamps"].get(f"{database}|{table}|{key}")
        received = receiver.received.get((database, table, key))
        if stage is None or received is None or "acked" not in stage:
            continue
        rows.append({"commit": committed, **stage, "received": received})
    print(f"capture_stages {' '.join(sys.argv[1:])}")
    print(
        f"{args.engine} at {report.rate:,.0f} changes/s: {len(rows):,} of "
        f"{len(simulation.committed):,} inserts stamped at every stage"
    )
    present = [g for g in GAPS if rows and g in rows[0]]
    totals = sorted(rows, key=lambda r: r["received"] - r["commit"])
    tail = totals[int(len(totals) * 0.99) :]
    overall = [(r["received"] - r["commit"]) * 1000 for r in rows]
    print(f"  {'commit → received':<24} {quantiles(overall)}")
    for a, b in itertools.pairwise(present):
        gaps = [(r[b] - r[a]) * 1000 for r in rows]
        tail_mean = statistics.mean((r[b] - r[a]) * 1000 for r in tail) if tail else 0.0
        print(f"  {a + ' → ' + b:<24} {quantiles(gaps)}   slowest 1 %: mean {tail_mean:6.1f} ms")
    stores = [s * 1000 for s in dumped["stores"]]
    writes = [s * 1000 for s in dumped["writes"]]
    print(f"  task loop in _store_safe ({len(stores):,} calls)   {quantiles(stores)}")
    print(f"  position write → acknowledged ({len(writes):,})  {quantiles(writes)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--agent"]:
        instrument(os.environ[STAMPS_ENV])
        from streamhub.cli.main import cli

        cli(args=sys.argv[2:], prog_name="streamhub")
    else:
        main()
